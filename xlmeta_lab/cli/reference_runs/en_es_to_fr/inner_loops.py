"""Inner loops matched to the test-time budget, at notebook 03's ``full`` profile: the reference behind its question
"does meta-training for the steps a learner will take widen the regime?".

Measures each variant's meta-step (seconds and peak memory, one thread, the training's own episodes), trains (or
loads) joint and every variant of the profile's ``inner_loops`` settings on its first ``seeds`` training seeds
(:mod:`~xlmeta_lab.experiments.studies.inner_loops`; the 1-step variants and joint are the budget curve's own
checkpoints), then scores them along the test budgets with
:func:`~xlmeta_lab.experiments.protocol.budget_curve.budget_curve`: a rate chosen on the French holdout for each
budget and variant, paired with joint at the same budget. Training and scoring are resumable.

Run::

    XLMETA_DATA=../shared/data python -m xlmeta_lab.cli.reference_runs.en_es_to_fr.inner_loops --workers 2 --out results/reference
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from xlmeta_lab.experiments.bench.meta_step import format_costs, meta_step_costs
from xlmeta_lab.experiments.protocol.budget_curve import CurveSettings, budget_curve, write_curve_results
from xlmeta_lab.experiments.studies.inner_loops import learned_rate_means, train_variants, variants
from xlmeta_lab.experiments.studies.udpos import NOTEBOOK, run_name, ud_setup
from xlmeta_lab.experiments.workers import worker_count
from xlmeta_lab.teaching.notebook import checkpoints_dir
from xlmeta_lab.teaching.profiles import profile_settings
from xlmeta_lab.teaching.reports.inner_loops import variant_table, widening_lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="processes (default: $XLMETA_WORKERS or 1)")
    parser.add_argument("--seed", type=int, default=0, help="the first training seed (the notebook's SEED)")
    parser.add_argument("--seeds", type=int, default=None, help="training seeds (default: the profile's)")
    parser.add_argument(
        "--profile", default="full", help="the notebook's profile (quick: to try the command)"
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=None,
        help="train and score only these of the profile's variants (e.g. maml-5 fomaml-5), in this order",
    )
    parser.add_argument("--cost-repeats", type=int, default=5, help="meta-steps timed per variant")
    parser.add_argument("--out", type=Path, default=Path("results"), help="folder for the results files")
    args = parser.parse_args()
    torch.set_num_threads(1)
    workers = worker_count(args.workers)
    settings = profile_settings(NOTEBOOK, args.profile)
    study = settings["inner_loops"]
    setup = ud_setup(settings, args.seed)
    checkpoints = checkpoints_dir() / run_name(args.profile, args.seed)
    seeds = [args.seed + i for i in range(args.seeds or study["seeds"])]
    chosen = variants(study["methods"], study["inner_steps"], study["learned_rates"])
    if args.variants:
        by_name = {v.name: v for v in chosen}
        unknown = [name for name in args.variants if name not in by_name]
        if unknown:
            parser.error(f"--variants {unknown} are not among the profile's: {sorted(by_name)}")
        chosen = [by_name[name] for name in args.variants]
    base = setup.train_config

    started = time.perf_counter()
    configs = {"joint": replace(base, method="joint")}
    configs |= {v.name: v.config(base) for v in chosen}
    meter, costs = meta_step_costs(setup.training, configs, repeats=args.cost_repeats)
    print(f"one meta-step of each variant (median of {args.cost_repeats}; memory: {meter})")
    print(format_costs(costs, reference="joint"), flush=True)

    trained = train_variants(setup.training, base, chosen, seeds, checkpoints=checkpoints, workers=workers)
    trained_s = time.perf_counter() - started
    print(f"costs measured, variants trained or loaded in {trained_s:.0f} s", flush=True)
    curve_settings = settings["curve"]
    scoring = CurveSettings(
        steps=tuple(study["test_steps"]),
        lrs=tuple(curve_settings["lrs"]),
        ks=tuple(study["ks"]),
        seed_lr=None,
        test_sets=tuple(curve_settings.get("test_sets", ())),
    )
    curve = budget_curve(
        trained.conditions,
        setup.splits,
        trained.encoder,
        setup.protocol,
        scoring,
        cache=checkpoints / "curve",
        workers=workers,
        progress=lambda line: print(line, flush=True),
    )
    rates = [
        row for v in chosen if v.learned_rates for row in learned_rate_means(checkpoints, v, base, seeds)
    ]
    wall = time.perf_counter() - started
    paths = write_curve_results(
        curve,
        f"{NOTEBOOK}-{args.profile}-inner-loops",
        config={
            "profile": args.profile,
            "settings": dict(settings),
            "train": base.to_dict(),
            "variants": [v.name for v in chosen],
            "step_costs_measured_with": meter,
            "workers": workers,
            "wall_s": {"costs_and_training": round(trained_s), "total": round(wall)},
        },
        seeds=seeds,
        out_dir=args.out,
        tables={"step_costs": [asdict(c) for c in costs], "learned_rates": rates},
    )
    test_set = next(iter(scoring.test_sets or setup.splits.tests))
    for k in scoring.ks:
        print(variant_table(curve, test_set, k) + "\n")
        print(widening_lines(curve, test_set, k) + "\n")
    print(f"{wall:.0f} s of wall time; written: " + ", ".join(str(p) for p in paths.values()))


if __name__ == "__main__":
    main()
