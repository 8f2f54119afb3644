"""From a checkpoint to something a user runs: ``fewshot`` (the protocol on the user's own support file,
``xlmeta fewshot``) and ``adapted_tagger`` (adapt, save, load and run a French tagger, ``xlmeta adapt`` and
``xlmeta tag``). May import ``training``, ``protocol``, ``adaptation`` and the base; never ``studies``."""
