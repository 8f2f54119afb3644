"""The scripts that produced committed reference results beyond a notebook's own run, one folder per notebook:
``en_es_to_fr`` (notebook 03's budget curve, inner loops and step probe) and ``transfer_analysis`` (notebook 05's
en+es pair on five seeds). Each runs as ``python -m xlmeta_lab.cli.reference_runs.NOTEBOOK.NAME`` and says how in
its docstring. They live at the top of the package, beside the ``xlmeta`` command, because they run a notebook's
profile (``teaching.profiles``) and print its report; the experiments they wire live in ``experiments.studies``."""
