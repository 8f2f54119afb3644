"""Running experiments: settings, training, checkpoints, adaptation, scoring, the few-shot protocol and its
statistics, and one wiring module per experiment (``toy``, ``udpos``, ``fewshot``).

Evaluation never reaches into training: both adapt through ``adapt`` and count through ``scoring``.
"""
