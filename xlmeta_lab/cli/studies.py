"""``xlmeta tagger-study``: the measurements behind a default of the workbook, runnable and resumable from a shell.

Example (notebook 03's ``full`` sizes, three seeds; stop it any time and run it again to continue)::

    xlmeta tagger-study --profile full --seeds 0 1 2 --checkpoints checkpoints/03_tagger_study --out results

It writes ``results/03_tagger_study.json`` with CSVs of the paired comparisons (BiLSTM against conv, longer
against shorter meta-training), the cost per outer step, and the protocol's summary and rows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from xlmeta_lab.teaching.profiles import PROFILE_NAMES


def add_study_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tagger-study`` to ``subparsers`` (from ``parser.add_subparsers(dest="command")``)."""
    parser = subparsers.add_parser(
        "tagger-study",
        help="notebook 03's tagger with a conv or a BiLSTM context, and 400 against 800 meta-steps, paired on French",
    )
    parser.add_argument(
        "--profile", choices=PROFILE_NAMES, default="quick", help="notebook 03's profile sizes"
    )
    parser.add_argument("--seed", type=int, default=0, help="the French split and draws (default: 0)")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (default: 0 1 2)"
    )
    parser.add_argument("--methods", nargs="+", default=["joint", "maml"], help="(default: joint maml)")
    parser.add_argument("--contexts", nargs="+", default=["conv", "lstm"], choices=["conv", "lstm"])
    parser.add_argument(
        "--lengths", type=int, nargs="+", default=[400, 800], help="outer steps kept (default: 400 800)"
    )
    parser.add_argument("--ks", type=int, nargs="+", default=[5, 20], help="French K scored (default: 5 20)")
    parser.add_argument("--test-sets", nargs="+", default=["fr_gsd-test"], help="(default: fr_gsd-test)")
    parser.add_argument(
        "--checkpoints", type=Path, default=None, help="run folders, to resume a stopped study"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("results"), help="folder for the results (default: results)"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    parser.add_argument("--data-dir", default=None, help="UD folder (default: $XLMETA_DATA or cache)")
    parser.set_defaults(func=run_tagger_study)


def run_tagger_study(args: argparse.Namespace) -> int:
    from xlmeta_lab.experiments.studies.tagger_study import tagger_study
    from xlmeta_lab.experiments.studies.udpos import NOTEBOOK
    from xlmeta_lab.teaching.profiles import profile_settings

    settings = profile_settings(NOTEBOOK, args.profile)
    options = {
        "methods": tuple(args.methods),
        "contexts": tuple(args.contexts),
        "lengths": tuple(args.lengths),
        "ks": tuple(args.ks),
        "test_sets": tuple(args.test_sets),
    }
    study = tagger_study(
        settings,
        args.seed,
        args.seeds,
        **options,
        out_dir=args.checkpoints,
        data_dir=args.data_dir,
        device=args.device,
        report=lambda line: print(line, flush=True),
    )
    config = {"profile": args.profile, "settings": dict(settings), **options}
    paths = study.write(args.out, config=config, seeds=args.seeds)
    for row in study.comparisons:
        print(
            f"K={row['K']:>2} {row['test_set']}: {row['condition']} - {row['against']}: "
            f"{row['diff']:+.1f} [{row['diff_low']:+.1f}, {row['diff_high']:+.1f}] points ({row['units']} units, "
            f"Holm-corrected p {row['p_holm']:.3f})"
        )
    print(f"wrote {paths['json']}")
    return 0
