"""How holdout accuracy moves along longer fine-tuning than notebook 03's grid: the probe behind its step grid.

Every budget of notebook 03's reference runs sat at the grid's largest step count, so this asks where more steps
stop helping. It loads trained runs from a full run's checkpoints (seed 0; ``scratch`` needs none) and runs the
protocol's own budget choice (:func:`~xlmeta_lab.experiments.protocol.run.choose_budget`: the budget Ks, draws and
French *holdout*, never a test set) on a grid reaching 1600 steps, printing the mean holdout accuracy at each.

Run (about 8 minutes per condition on one thread)::

    XLMETA_DATA=../shared/data python -m xlmeta_lab.cli.reference_runs.en_es_to_fr.steps_probe checkpoints/03_en_es_to_fr-full-seed0 \\
        joint maml
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from xlmeta_lab.experiments.protocol.run import choose_budget
from xlmeta_lab.experiments.studies.conditions import train_conditions
from xlmeta_lab.experiments.studies.udpos import ud_setup
from xlmeta_lab.teaching.profiles import profile_settings

STEPS = (50, 100, 200, 400, 800, 1600)
LRS = (0.1, 0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", type=Path, help="a full run's checkpoint folder (holds <method>-seed0)")
    parser.add_argument("methods", nargs="+", help="trained methods to probe; scratch comes with the first")
    args = parser.parse_args()
    torch.set_num_threads(1)
    setup = ud_setup(profile_settings("03_en_es_to_fr", "full"), seed=0)
    protocol = replace(setup.protocol, steps=STEPS, lrs=LRS)
    for index, method in enumerate(args.methods):
        trained = train_conditions(
            setup.training, setup.train_config, [method], [0], scratch=index == 0, out_dir=args.checkpoints
        )
        for condition in trained.conditions:
            start = time.perf_counter()
            budget = choose_budget(
                condition, setup.splits.support_pool, setup.splits.holdout, trained.encoder, protocol
            )
            print(
                f"{condition.name}: chosen lr={budget.lr} steps={budget.steps}, "
                f"{100 * budget.holdout_acc:.2f}% ({time.perf_counter() - start:.0f} s)"
            )
            for lr in LRS:
                curve = " ".join(f"{s}:{100 * statistics.fmean(budget.grid[(lr, s)]):.2f}" for s in STEPS)
                print(f"  lr {lr}  {curve}", flush=True)


if __name__ == "__main__":
    main()
