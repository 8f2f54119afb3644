"""Notebook 03's protocol along the adaptation budget at the ``full`` profile: the reference behind its regime lesson.

Trains (or loads, from the notebook's own checkpoint folder) the full profile's ``curve_methods`` on its
``curve_seeds`` training seeds, then runs :func:`~xlmeta_lab.experiments.protocol.budget_curve.budget_curve` with
the profile's ``curve`` settings: a rate chosen on the French holdout for each step count, every condition scored
on the protocol's paired draws. Training and scoring are resumable (checkpoints and the protocol cache), and the
same call the notebook makes, so a later notebook run at ``full`` reads them back.

Run (about an hour of wall time with two workers on two cores)::

    XLMETA_DATA=../shared/data python -m xlmeta_lab.cli.reference_runs.en_es_to_fr.curve --workers 2 --out results/reference
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from xlmeta_lab.experiments.protocol.budget_curve import CurveSettings, budget_curve, write_curve_results
from xlmeta_lab.experiments.studies.conditions import train_conditions
from xlmeta_lab.experiments.studies.udpos import NOTEBOOK, run_name, ud_setup
from xlmeta_lab.experiments.workers import worker_count
from xlmeta_lab.teaching.notebook import checkpoints_dir
from xlmeta_lab.teaching.profiles import profile_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="processes (default: $XLMETA_WORKERS or 1)")
    parser.add_argument("--seed", type=int, default=0, help="the first training seed (the notebook's SEED)")
    parser.add_argument("--profile", default="full", help="the notebook's profile (quick: to try the command)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="folder for the results files")
    args = parser.parse_args()
    torch.set_num_threads(1)
    workers = worker_count(args.workers)
    settings = profile_settings(NOTEBOOK, args.profile)
    setup = ud_setup(settings, args.seed)
    checkpoints = checkpoints_dir() / run_name(args.profile, args.seed)
    seeds = [args.seed + i for i in range(settings["curve_seeds"])]
    started = time.perf_counter()
    trained = train_conditions(
        setup.training, setup.train_config, settings["curve_methods"], seeds, out_dir=checkpoints, workers=workers
    )
    trained_s = time.perf_counter() - started
    print(f"trained or loaded in {trained_s:.0f} s", flush=True)
    curve = budget_curve(
        trained.conditions,
        setup.splits,
        trained.encoder,
        setup.protocol,
        CurveSettings.from_settings(settings["curve"]),
        cache=checkpoints / "curve",
        workers=workers,
        progress=lambda line: print(line, flush=True),
    )
    wall = time.perf_counter() - started
    paths = write_curve_results(
        curve,
        f"{NOTEBOOK}-{args.profile}-curve",
        config={
            "profile": args.profile,
            "settings": dict(settings),
            "train": setup.train_config.to_dict(),
            "workers": workers,
            "wall_s": {"training": round(trained_s), "total": round(wall)},
        },
        seeds=seeds,
        out_dir=args.out,
    )
    print(f"{wall:.0f} s of wall time; written: " + ", ".join(str(p) for p in paths.values()))


if __name__ == "__main__":
    main()
