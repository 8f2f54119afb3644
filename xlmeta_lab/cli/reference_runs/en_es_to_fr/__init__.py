"""Reference runs on notebook 03's profile (English and Spanish to French, UPOS): ``curve`` (the budget curve over
K and fine-tuning steps), ``inner_loops`` (inner loops matched to the budget) and ``steps_probe`` (holdout accuracy
past the step grid). Each runs as ``python -m xlmeta_lab.cli.reference_runs.en_es_to_fr.NAME``."""
