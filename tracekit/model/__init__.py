"""The analytical communication model (pure Python: no Typer, no Rich, no printing).

- :mod:`~tracekit.model.study`: the study's published volume formulas, verbatim.
- :mod:`~tracekit.model.predict`: every collective each rank issues, per phase.
- :mod:`~tracekit.model.alpha_beta`: the alpha-beta time model and its least-squares fit.
- :mod:`~tracekit.model.sweep`: TP x PP configurations ranked by volume.
- :mod:`~tracekit.model.validate`: the model against a run's measured communication.
- :mod:`~tracekit.model.reproduce`: the study's figures and claims, checked.
"""
