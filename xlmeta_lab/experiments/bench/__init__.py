"""``xlmeta bench``: the engine's speed against a plain per-task loop (``engine``), peak memory per meta-step
(``memory``), sweeps over task-batch size and inner steps (``sweep``) and the small models and tasks they time
(``tasks``). May import ``meta``, ``models``, ``data`` and the base of ``experiments``."""
