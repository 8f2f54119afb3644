"""Notebook 05's en+es conditions on more training seeds than its reference: the pair's protocol, as its own file.

Notebook 05 trains every source set on the same seeds and pairs the sets on the units they share; its full reference
has 3 seeds, which leave a crossed interval's seed component 2 degrees of freedom. The en+es pair (scratch, joint and
the meta-learner) is what every other source set is measured against and what the savings analysis reads, so it is
the part rerun here on ``--seeds`` seeds, with the notebook's own call (``transfer.run_source_sets`` on the pair
alone), budgets chosen on the French holdout as there. Training writes checkpoints and the protocol a cache under
the checkpoint folder, so a stopped run resumes. It writes ``05_transfer_analysis-<profile>-pair``.

Run (466 s from nothing with two workers on two idle cores at ``full``, five seeds)::

    XLMETA_DATA=../shared/data python -m xlmeta_lab.cli.reference_runs.transfer_analysis.pair_seeds CKPT \\
        --seeds 5 --workers 2 --out xlmeta_lab/reference
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from xlmeta_lab.experiments.protocol.results import write_protocol_results
from xlmeta_lab.experiments.studies import transfer
from xlmeta_lab.experiments.workers import worker_count
from xlmeta_lab.teaching.notebook import reference_dir
from xlmeta_lab.teaching.profiles import profile_settings

SEED = 0


def run_pair(checkpoints: Path, profile: str, n_seeds: int, workers: int, out: Path) -> dict[str, Path]:
    """Train and score the pair's conditions on seeds ``SEED .. SEED + n_seeds - 1``; the written files' paths."""
    settings = profile_settings(transfer.NOTEBOOK, profile)
    setup = transfer.transfer_setup(settings, SEED)
    meta, why = transfer.chosen_meta_method(settings, reference_dir() / "03_en_es_to_fr-full.json")
    print(f"meta-learner: {why}", flush=True)
    seeds = [SEED + i for i in range(n_seeds)]
    pair = transfer.set_name(setup.pair)
    result, _ = transfer.run_source_sets(
        setup, [pair], ["joint", meta], seeds, out_dir=checkpoints, progress=print, workers=workers
    )
    config = {
        "profile": profile,
        "meta_method": meta,
        "source_sets": [pair],
        "settings": dict(settings),
        "train": setup.train_config.to_dict(),
        "workers": workers,
        "script": "cli/reference_runs/transfer_analysis/pair_seeds.py",
    }
    return write_protocol_results(result, f"{transfer.NOTEBOOK}-{profile}-pair", config=config, seeds=seeds,
                                  out_dir=out)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", type=Path, help="folder for the trainings and the protocol's cache")
    parser.add_argument("--seeds", type=int, default=5, help="training seeds, from 0 (default 5)")
    parser.add_argument("--profile", default="full", help="notebook 05's profile (default full)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: $XLMETA_WORKERS or 1)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="where the results files go")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    torch.set_num_threads(1)
    paths = run_pair(args.checkpoints, args.profile, args.seeds, worker_count(args.workers), args.out)
    print("written:", ", ".join(str(p) for p in paths.values()))


if __name__ == "__main__":
    main()
