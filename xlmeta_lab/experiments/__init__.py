"""Running experiments, in rooms that import only downwards:

- the base modules here: ``config`` (every run's settings, strict), ``methods`` (the registry of conditions),
  ``results`` (result files with their provenance) and ``progress`` (progress bars). They import nothing from
  the subpackages.
- ``adaptation``: fine-tuning a model on a support set and scoring it, the one path that training and
  evaluation share (evaluation never reaches into training).
- ``protocol``: the few-shot protocol (support draws, budgets chosen on the holdout, scoring, statistics,
  result tables, the resumable cache). Imports ``adaptation`` and the base.
- ``training``: the training loop, checkpoints, run folders, launching several processes. Imports
  ``adaptation`` and the base, never ``protocol``.
- ``studies``: one wiring module per experiment (toy, UD POS, SIB-200, transfer, savings, the tagger study) and
  the reference scripts. Imports everything below it.
- ``deployment``: the user-facing path from a checkpoint to a French tagger (``fewshot``, ``adapted_tagger``).
- ``bench``: speed and memory of the engine (``xlmeta bench``).

Nothing here imports ``teaching`` or ``cli``.
"""
