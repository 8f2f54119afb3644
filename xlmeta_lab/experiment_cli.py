"""``xlmeta train`` and ``xlmeta evaluate``: the notebooks' experiments from a shell, resumable.

Register them on the main parser with :func:`add_experiment_commands`; each subcommand sets
``func(args) -> int`` (the exit status). The toy task is wired; UD part-of-speech tagging and SIB-200
follow in issues 5 and 6 and fail with a message that says so.

Examples::

    xlmeta train --task toy --method maml --profile quick --out runs/toy-maml
    xlmeta train --task toy --method maml --profile quick --out runs/toy-maml --resume   # after a kill
    xlmeta evaluate --init runs/toy-maml --task toy --profile quick --json results/toy-maml.json
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from xlmeta_lab import evaluate as ev
from xlmeta_lab.profiles import profile_settings
from xlmeta_lab.train import METHODS, TrainingDiverged, adapt_spec, load_checkpoint, train

TASKS = ("toy", "ud-pos", "sib200")
_NOT_WIRED = {
    "ud-pos": "the ud-pos task is not wired yet (issue 5); use --task toy for now",
    "sib200": "the sib200 task is not wired yet (issue 6); use --task toy for now",
}
_TOY_NOTEBOOK = "02_toy_languages"


def add_experiment_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``evaluate`` to ``subparsers`` (from ``parser.add_subparsers(dest="command")``)."""
    train_parser = subparsers.add_parser(
        "train", help="learn an initialisation (meta-learning or joint baseline)"
    )
    train_parser.add_argument("--task", choices=TASKS, default="toy")
    train_parser.add_argument("--method", choices=METHODS, required=True)
    train_parser.add_argument("--profile", choices=("quick", "full"), default="quick")
    train_parser.add_argument("--out", type=Path, required=True, help="folder for checkpoint.pt")
    train_parser.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    train_parser.add_argument("--seed", type=int, default=0)
    train_parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    train_parser.set_defaults(func=run_train)

    eval_parser = subparsers.add_parser(
        "evaluate", help="few-shot protocol on the target language for a checkpoint"
    )
    eval_parser.add_argument("--init", type=Path, required=True, help="checkpoint file or its folder")
    eval_parser.add_argument("--task", choices=TASKS, default="toy")
    eval_parser.add_argument("--profile", choices=("quick", "full"), default="quick")
    eval_parser.add_argument("--seed", type=int, default=0, help="data and draw seed (as used for training)")
    eval_parser.add_argument(
        "--json", type=Path, default=None, help="write the results here (JSON, plus CSVs beside it)"
    )
    eval_parser.set_defaults(func=run_evaluate)


def _not_wired(task: str) -> int:
    print(f"error: {_NOT_WIRED[task]}", file=sys.stderr)
    return 2


def run_train(args: argparse.Namespace) -> int:
    """Train one initialisation on the toy en + es languages with the profile's settings."""
    if args.task != "toy":
        return _not_wired(args.task)
    setup = ev.toy_setup(profile_settings(_TOY_NOTEBOOK, args.profile), args.seed)
    config = replace(setup.train_config, method=args.method)
    try:
        result = train(setup.training, config, args.out, resume=args.resume, device=args.device)
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    last = result.validation[-1] if result.validation else {}
    print(
        f"{args.method}: {result.history[-1]['step']} steps, validation accuracy after adaptation "
        f"{100 * last.get('val_acc_adapted', float('nan')):.1f}%; checkpoint {result.checkpoint}"
    )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """The few-shot protocol on toy French for one checkpoint, next to an untrained tagger (scratch)."""
    if args.task != "toy":
        return _not_wired(args.task)
    checkpoint = load_checkpoint(args.init)
    setup = ev.toy_setup(profile_settings(_TOY_NOTEBOOK, args.profile), args.seed)
    scratch = ev.train_conditions(setup.training, checkpoint.train_config, [], [checkpoint.train_config.seed])
    if scratch.vocab != checkpoint.vocab:
        print(
            f"error: {args.init} was trained on other data than --profile {args.profile} --seed {args.seed} gives "
            "(different vocabulary); pass the profile and seed it was trained with",
            file=sys.stderr,
        )
        return 2
    method = checkpoint.method
    trained = ev.Condition(
        method, [checkpoint.build_model()], [checkpoint.train_config.seed], adapt_spec(method)
    )
    protocol = replace(setup.protocol, baseline="scratch")
    result = ev.run_protocol([*scratch.conditions, trained], setup.splits, checkpoint.vocab, protocol)
    print(result.table())
    for k in (k for k in protocol.ks if k > 0):
        print(ev.describe_difference(result.get(method, k)))
    if args.json is not None:
        out = args.json
        name = out.name.removesuffix(".json")
        paths = ev.write_protocol_results(
            result,
            name,
            config={
                "init": str(args.init),
                "profile": args.profile,
                "train": checkpoint.train_config.to_dict(),
            },
            seeds=[checkpoint.train_config.seed],
            out_dir=out.parent,
        )
        print("written:", ", ".join(str(p) for p in paths.values()))
    return 0
