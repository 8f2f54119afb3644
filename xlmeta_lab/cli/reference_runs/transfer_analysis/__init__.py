"""Reference runs on notebook 05's profile (which source languages help French): ``pair_seeds`` (the en+es pair
on more training seeds than the notebook's reference). Runs as
``python -m xlmeta_lab.cli.reference_runs.transfer_analysis.pair_seeds``."""
