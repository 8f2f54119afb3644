"""The scripts that produced committed reference results beyond a notebook's own run: ``savings_05`` (notebook
05's savings on the finer grid) and ``steps_probe_03`` (holdout accuracy past notebook 03's step grid). Each runs
as ``python -m xlmeta_lab.cli.reference_runs.NAME`` and says how in its docstring. They live at the top of the
package, beside the ``xlmeta`` command, because they run a notebook's profile (``teaching.profiles``) and print
its report; the experiments they wire live in ``experiments.studies``."""
