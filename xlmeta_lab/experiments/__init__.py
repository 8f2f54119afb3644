"""Running experiments: settings, training, checkpoints, adaptation, scoring, the few-shot protocol and its
statistics, and one wiring module per experiment (``toy``, ``udpos``, ``fewshot``); ``deploy`` adapts a checkpoint
and saves, loads and runs the tagger it becomes.

Evaluation never reaches into training: both adapt through ``adapt`` and count through ``scoring``.
"""
