"""Training a condition: the loop (``loop``), which episodes a run draws from (``episodes``), checkpoints that
resume (``checkpoints``), run folders owned by one run (``run_folder``) and several processes (``launch``). May
import ``adaptation`` and the base of ``experiments``; never ``protocol``, ``studies`` or ``deployment``."""
