"""One wiring module per experiment a notebook runs: ``toy`` (02), ``udpos`` (03), ``sib200`` (04),
``transfer`` and ``savings`` (05), ``tagger_study``; ``conditions`` trains a study's conditions. May import
``training``, ``protocol``, ``adaptation`` and the base; never ``deployment`` or ``bench``. (The scripts that
reran parts of a reference live in ``cli.reference_runs``: they run a notebook's profile.)"""
