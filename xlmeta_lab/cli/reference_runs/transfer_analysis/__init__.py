"""Reference runs on notebook 05's profile (which source languages help French): ``savings`` (the savings table on
a finer grid of K and fine-tuning steps). Runs as ``python -m xlmeta_lab.cli.reference_runs.transfer_analysis.savings``."""
