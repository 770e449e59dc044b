"""The study in one command: several parallel layouts of one workload, side by side.

- :mod:`~tracekit.study.compare`: measured communication and latency of each run of a
  store with the model's prediction for its layout beside it (``tracekit compare``).
- :mod:`~tracekit.study.sweep`: collect every layout of a sweep and import it into one
  store, resuming where an earlier sweep stopped (``tracekit study``).
- :mod:`~tracekit.study.figures`: the study's figures from a comparison (matplotlib).
- :mod:`~tracekit.study.report`: ``report.md`` and a self-contained ``report.html``.
"""
