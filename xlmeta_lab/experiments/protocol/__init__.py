"""The few-shot protocol: French support draws shared by every condition (``run``), budgets chosen on the
French holdout only, intervals and paired differences (``stats``), result tables and files (``results``) and the
cache that lets a stopped full run resume (``cache``). May import ``adaptation`` and the base of
``experiments``; never ``training`` or ``studies``."""
