"""Collecting traces: ``tracekit collect`` and what it writes.

- :mod:`~tracekit.collect.runner`: run the built-in workload on T×P ranks (``CollectSpec``).
- :mod:`~tracekit.collect.wrap`: run a user's own launch under Nsight Systems.
- :mod:`~tracekit.collect.manifest`: ``manifest.json``, the one ``Manifest`` type that
  collect and wrap write and that import and validate read.
- :mod:`~tracekit.collect.outdir`: the output folder: a fresh one or tracekit's own;
  only files tracekit wrote are ever deleted.
- :mod:`~tracekit.collect.supervise`: start, watch and stop the rank processes.
- :mod:`~tracekit.collect.launch_env`: a rank started by torchrun, srun or mpirun.
- :mod:`~tracekit.collect.nsys_cmd`: the ``nsys profile`` / ``nsys export`` commands.
- :mod:`~tracekit.collect.presets`: model shapes (also used by :mod:`tracekit.model`).

Nothing here imports torch: only the rank processes (``collectors/worker.py``) do.
The package's ``__init__`` imports nothing, so reading a manifest loads no launcher code,
and the name of the manifest file is here so that an import without one does not load
:mod:`~tracekit.collect.manifest` (its dataclasses take 10-15 ms to define).
"""

MANIFEST_NAME = "manifest.json"
