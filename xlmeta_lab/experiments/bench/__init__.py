"""``xlmeta bench``: the engine's speed against a plain per-task loop (``engine``), peak memory per meta-step
(``memory``), a training configuration's own meta-step in seconds and memory (``meta_step``), sweeps over task-batch
size and inner steps (``sweep``) and the small models and tasks they time (``tasks``). May import ``meta``,
``models``, ``data``, ``experiments``' base and its lower rooms (``adaptation``, ``protocol``, ``training``)."""
