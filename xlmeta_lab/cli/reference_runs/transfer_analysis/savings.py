"""Compute saved on a finer grid: the rerun behind the savings table of notebook 05's committed reference.

The first full run's savings grid (K 1/5/10/20/50, steps 25/50/100/200) was too coarse to answer its question: joint
and MAML reached the target at the first step count in every unit (so "steps needed" was 25 for all of them, an
upper bound, and the saving a zero-width interval), and between K = 20 and 50 there was nothing to tell them apart.
This script retrains the en+es conditions of that run (same profile, seeds and code, hence the same weights on the
CPU; the script checks it against the first run's curve where the grids overlap), runs the protocol's budget
choice on the French holdout, and records the accuracy curves on the `full` profile's current grid.

Phases, each resumable (training writes checkpoints, the protocol and the curves caches), two of them in parallel
processes::

    python -m xlmeta_lab.cli.reference_runs.transfer_analysis.savings train CKPT --methods joint &   # and, at the same time:
    python -m xlmeta_lab.cli.reference_runs.transfer_analysis.savings train CKPT --methods maml
    python -m xlmeta_lab.cli.reference_runs.transfer_analysis.savings protocol CKPT
    python -m xlmeta_lab.cli.reference_runs.transfer_analysis.savings curves CKPT --ks 50 --out part-a.csv &
    python -m xlmeta_lab.cli.reference_runs.transfer_analysis.savings curves CKPT --ks 1 2 5 10 20 30 --out part-b.csv
    python -m xlmeta_lab.cli.reference_runs.transfer_analysis.savings merge part-a.csv part-b.csv --check OLD_SAVINGS.csv

``merge`` prints the summary the notebook prints and rewrites the ``savings`` table and ``target`` of the committed
``05_transfer_analysis-full-analysis`` files, keeping their other tables and adding this run's provenance.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any

import torch

from xlmeta_lab.experiments.results import provenance, write_results
from xlmeta_lab.experiments.studies import savings, transfer
from xlmeta_lab.teaching.notebook import reference_dir
from xlmeta_lab.teaching.profiles import profile_settings
from xlmeta_lab.teaching.reports.transfer import savings_report

SEED = 0
ANALYSIS = f"{transfer.NOTEBOOK}-full-analysis"


def _setup() -> tuple[dict[str, Any], transfer.TransferSetup, list[int], str]:
    settings = profile_settings(transfer.NOTEBOOK, "full")
    setup = transfer.transfer_setup(settings, SEED)
    seeds = [SEED + i for i in range(settings["n_seeds"])]
    meta, _ = transfer.best_meta_method(reference_dir() / "03_en_es_to_fr-full.json")
    return settings, setup, seeds, meta


def train(checkpoints: Path, methods: list[str]) -> None:
    _, setup, seeds, _ = _setup()
    transfer.train_source_set(setup, setup.pair, methods, seeds, out_dir=checkpoints, progress=True)


def curves(checkpoints: Path, ks: list[int] | None, out: Path | None) -> None:
    """The protocol on en+es (cached after its first run), then, with ``out``, the curves at ``ks``."""
    settings, setup, seeds, meta = _setup()
    pair = transfer.set_name(setup.pair)
    result, trained = transfer.run_source_sets(setup, [pair], ["joint", meta], seeds, out_dir=checkpoints)
    for name, budget in result.budgets.items():
        print(f"{name}: lr {budget.lr}, {budget.steps} steps ({100 * budget.holdout_acc:.2f}% on the holdout)")
    if out is None:
        return
    test = list(setup.splits.tests)[0]
    candidates = {c.name: c for c in trained[pair].conditions}
    rows = []
    for name in ("scratch", f"joint@{pair}", f"{meta}@{pair}"):
        start = time.perf_counter()
        rows += savings.accuracy_curves(
            [candidates[name]], result.budgets, setup.splits.support_pool, setup.splits.tests[test],
            trained[pair].encoder, ks=ks or settings["savings_ks"], steps=settings["savings_steps"],
            n_draws=setup.protocol.n_draws, draw_seed=setup.protocol.draw_seed, cache=checkpoints / "savings",
        )  # fmt: skip
        print(f"{name}: curves in {time.perf_counter() - start:.0f} s", flush=True)
    with out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _read(path: Path) -> list[dict[str, Any]]:
    with path.open() as handle:
        return [
            {**r, "seed": int(r["seed"]), "draw": int(r["draw"]), "K": int(r["K"]), "steps": int(r["steps"]),
             "accuracy": float(r["accuracy"])}
            for r in csv.DictReader(handle)
        ]  # fmt: skip


def _by_point(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], float]:
    """Accuracy by (condition, seed, draw, K, steps): where two runs' grids can be compared point by point."""
    return {(r["condition"], r["seed"], r["draw"], r["K"], r["steps"]): r["accuracy"] for r in rows}


def merge(parts: list[Path], check: Path | None) -> None:
    settings, _, seeds, meta = _setup()
    order = {name: i for i, name in enumerate(("scratch", "joint@en+es", f"{meta}@en+es"))}  # the notebook's
    rows = sorted(
        (r for part in parts for r in _read(part)),
        key=lambda r: (order[r["condition"]], r["seed"], r["K"], r["steps"], r["draw"]),
    )
    if check is not None:  # the same weights and draws must give the first run's accuracies where grids overlap
        old, new = _by_point(_read(check)), _by_point(rows)
        shared = old.keys() & new.keys()
        worst = max(abs(old[key] - new[key]) for key in shared)
        print(f"against {check.name}: {len(shared)} shared (unit, K, steps) points, largest difference {worst:.2e}")
    target = savings.scratch_target(rows)
    print(  # as notebook 05 prints it
        savings_report(
            rows, target, ks=settings["savings_ks"], steps=settings["savings_steps"],
            condition=f"{meta}@en+es", joint="joint@en+es",
        )
    )  # fmt: skip
    reference = reference_dir() / f"{ANALYSIS}.json"
    committed = json.loads(reference.read_text())
    config = {"profile": "full", "meta_method": meta, "settings": settings, "script": "cli/reference_runs/transfer_analysis/savings.py"}
    write_results(
        ANALYSIS,
        provenance_record={**committed["provenance"], "savings_rerun": provenance(config, seeds)},
        tables={"alignment": committed["alignment"], "savings": rows},
        extra={
            "similarities": committed["similarities"],
            "typological_distances": committed["typological_distances"],
            "target": target,
        },
        out_dir=reference_dir(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=["train", "protocol", "curves", "merge"])
    parser.add_argument("paths", nargs="+", type=Path, help="the checkpoint folder (merge: the parts)")
    parser.add_argument("--methods", nargs="+", default=["joint", "maml"], help="train: the methods")
    parser.add_argument("--ks", nargs="+", type=int, help="curves: this part's K values (default: the grid's)")
    parser.add_argument("--out", type=Path, help="curves: this part's CSV")
    parser.add_argument("--check", type=Path, help="merge: the first run's savings CSV to compare against")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.phase == "train":
        train(args.paths[0], args.methods)
    elif args.phase == "protocol":
        curves(args.paths[0], None, None)
    elif args.phase == "curves":
        curves(args.paths[0], args.ks, args.out)
    else:
        merge(args.paths, args.check)


if __name__ == "__main__":
    main()
