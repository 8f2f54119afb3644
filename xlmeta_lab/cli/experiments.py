"""``xlmeta train`` and ``xlmeta evaluate``: the notebooks' experiments from a shell, resumable.

Register them on the main parser with :func:`add_experiment_commands`; each subcommand sets
``func(args) -> int`` (the exit status). The toy task and UD part-of-speech tagging (``ud-pos``) are
wired; SIB-200 is not wired yet and fails with a message that says so. ``xlmeta fewshot`` adapts any
saved initialisation to any UD treebank.

Examples::

    xlmeta train --task toy --method maml --profile quick --out runs/toy-maml
    xlmeta train --task toy --method maml --profile quick --out runs/toy-maml --resume   # after a kill
    xlmeta train --task ud-pos --method maml --device cuda --nproc 4 --out runs/ud-maml  # 4 GPUs
    xlmeta evaluate --init runs/toy-maml --task toy --profile quick --json results/toy-maml.json
    xlmeta train --task ud-pos --method fomaml --profile full --out runs/ud-fomaml
    xlmeta train --task ud-pos --method maml --model xlm-roberta-base --profile full --out runs/ud-xlmr-maml
    xlmeta fewshot --init runs/ud-fomaml --support $XLMETA_DATA/UD_French-GSD/fr_gsd-ud-dev.conllu \\
        --test $XLMETA_DATA/UD_French-GSD/fr_gsd-ud-test.conllu --shots 5 --draws 5
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from xlmeta_lab.experiments.methods import METHODS
from xlmeta_lab.teaching.profiles import PROFILE_NAMES, profile_settings

TASKS = ("toy", "ud-pos", "sib200")
_NOT_WIRED = {"sib200": "the sib200 task is not wired yet; use --task toy or ud-pos for now"}


def _setup(task: str, profile: str, seed: int, data_dir: str | None = None, model: str | None = None) -> Any:
    """The experiment behind ``--task``: training languages, configs and French splits of a profile.

    ``model``: ``None`` (or ``char-cnn``) for the tagger trained from scratch, else a Hugging Face
    encoder's name or folder (``ud-pos`` only).
    """
    from xlmeta_lab.experiments import toy, udpos

    model = model or udpos.WORD_TAGGER
    if task == "toy":
        if model != udpos.WORD_TAGGER:
            raise ValueError(
                f"--model {model}: the toy languages are made up, no pretrained encoder knows them"
            )
        return toy.toy_setup(profile_settings(toy.NOTEBOOK, profile), seed)
    return udpos.ud_setup(profile_settings(udpos.NOTEBOOK, profile), seed, data_dir, model=model)


def add_experiment_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``evaluate`` to ``subparsers`` (from ``parser.add_subparsers(dest="command")``)."""
    train_parser = subparsers.add_parser(
        "train", help="learn an initialisation (meta-learning or joint baseline)"
    )
    train_parser.add_argument("--task", choices=TASKS, default="toy", help="which experiment")
    train_parser.add_argument(
        "--method", choices=list(METHODS), required=True, help="; ".join(m.summary for m in METHODS.values())
    )
    train_parser.add_argument(
        "--profile", choices=PROFILE_NAMES, default="quick", help="the notebook profile's settings"
    )
    train_parser.add_argument("--out", type=Path, required=True, help="folder for checkpoint.pt")
    train_parser.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    train_parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a checkpoint already in --out (a finished run is lost)",
    )
    train_parser.add_argument("--seed", type=int, default=0)
    train_parser.add_argument(
        "--model",
        default=None,
        help="char-cnn (default: the tagger trained from scratch) or a Hugging Face encoder name or folder, "
        "e.g. xlm-roberta-base (ud-pos only)",
    )
    train_parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    train_parser.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="processes on this machine, each with its share of every meta-batch: one per GPU with --device "
        "cuda, or CPU processes; started as torchrun --standalone --nproc-per-node would",
    )
    train_parser.add_argument(
        "--bf16",
        action="store_true",
        help="training's forward passes (inner and outer) in bfloat16 autocast, for GPUs that have it",
    )
    train_parser.add_argument(
        "--data-dir", default=None, help="UD/SIB-200 folder (default: $XLMETA_DATA or cache)"
    )
    train_parser.set_defaults(func=run_train)

    eval_parser = subparsers.add_parser(
        "evaluate", help="few-shot protocol on the target language for a checkpoint"
    )
    eval_parser.add_argument("--init", type=Path, required=True, help="checkpoint file or its folder")
    eval_parser.add_argument("--task", choices=TASKS, default="toy", help="which experiment")
    eval_parser.add_argument(
        "--profile", choices=PROFILE_NAMES, default="quick", help="the notebook profile's settings"
    )
    eval_parser.add_argument("--seed", type=int, default=0, help="data and draw seed (as used for training)")
    eval_parser.add_argument(
        "--json", type=Path, default=None, help="write the results here (JSON, plus CSVs beside it)"
    )
    eval_parser.add_argument(
        "--data-dir", default=None, help="UD/SIB-200 folder (default: $XLMETA_DATA or cache)"
    )
    eval_parser.set_defaults(func=run_evaluate)

    fewshot_parser = subparsers.add_parser(
        "fewshot", help="adapt a saved initialisation to any UD treebank from K sentences"
    )
    fewshot_parser.add_argument("--init", type=Path, required=True, help="checkpoint file or its folder")
    fewshot_parser.add_argument(
        "--support", type=Path, required=True, help="CoNLL-U file to draw support sets from"
    )
    fewshot_parser.add_argument("--test", type=Path, required=True, help="CoNLL-U file to score on")
    fewshot_parser.add_argument("--shots", type=int, required=True, help="K: sentences per support set")
    fewshot_parser.add_argument("--draws", type=int, default=5, help="support sets drawn")
    fewshot_parser.add_argument(
        "--holdout",
        type=float,
        default=0.2,
        help="share of --support set aside to choose lr and steps",
    )
    fewshot_parser.add_argument(
        "--lrs", type=float, nargs="+", default=[0.03, 0.1, 0.3], help="fine-tuning lr grid"
    )
    fewshot_parser.add_argument(
        "--steps", type=int, nargs="+", default=[10, 25, 50], help="fine-tuning steps grid"
    )
    fewshot_parser.add_argument("--seed", type=int, default=0, help="seed of the holdout split and the draws")
    fewshot_parser.add_argument(
        "--json", type=Path, default=None, help="write the results here (JSON + CSVs)"
    )
    fewshot_parser.set_defaults(func=run_fewshot)


def _not_wired(task: str) -> int:
    print(f"error: {_NOT_WIRED[task]}", file=sys.stderr)
    return 2


def run_train(args: argparse.Namespace) -> int:
    """Train one initialisation on the task's en + es data with the profile's settings.

    ``--nproc N`` starts N processes of this same command (:func:`~xlmeta_lab.experiments.launch.launch_local`),
    which join one process group; under ``torchrun`` the command joins the group torchrun started.
    """
    from xlmeta_lab.experiments.launch import is_local_leader, launch_local, launched, process_group
    from xlmeta_lab.experiments.run_folder import claimed_run_folder
    from xlmeta_lab.experiments.training import TrainingDiverged, train
    from xlmeta_lab.meta import resolve_device
    from xlmeta_lab.meta.distributed import rank_and_world

    if args.task in _NOT_WIRED:
        return _not_wired(args.task)
    if args.nproc < 1:
        raise ValueError(f"--nproc must be at least 1, got {args.nproc}")
    if args.nproc > 1 and not launched():
        return launch_local(
            args.nproc, "xlmeta_lab.cli", args.command_line, module=True, quiet=not args.debug
        )
    here = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if args.nproc > 1 and args.nproc != here:
        raise ValueError(
            f"--nproc {args.nproc}, but the launcher started {here} process(es) on this machine; "
            "under torchrun, leave --nproc out"
        )
    try:
        device = resolve_device(args.device)
    except RuntimeError as error:  # e.g. cuda asked for on a machine without a GPU
        raise ValueError(f"--device {args.device}: {error}") from None
    # The folder is claimed before any time is spent on data.
    with (
        process_group(device) as device,
        claimed_run_folder(args.out, resume=args.resume, overwrite=args.overwrite),
    ):
        setup = _setup(args.task, args.profile, args.seed, args.data_dir, args.model)
        config = replace(setup.train_config, method=args.method, bf16=args.bf16)
        try:
            result = train(setup.training, config, args.out, resume=args.resume, device=device)
        except TrainingDiverged as error:
            if is_local_leader():
                print(f"error: {error}", file=sys.stderr)
            return 1
        if rank_and_world()[0] > 0:  # rank 0 reports the run
            return 0
    last = result.validation[-1] if result.validation else {}
    print(
        f"{args.method}: {result.history[-1]['step']} steps, validation accuracy after adaptation "
        f"{100 * last.get('val_acc_adapted', float('nan')):.1f}%; checkpoint {result.checkpoint}"
    )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """The few-shot protocol on French for one checkpoint, next to an untrained tagger (scratch)."""
    from xlmeta_lab.experiments.checkpoints import load_checkpoint
    from xlmeta_lab.experiments.conditions import train_conditions
    from xlmeta_lab.experiments.protocol import Condition, run_protocol, write_protocol_results
    from xlmeta_lab.teaching.report import describe_difference

    if args.task in _NOT_WIRED:
        return _not_wired(args.task)
    checkpoint = load_checkpoint(args.init)
    setup = _setup(args.task, args.profile, args.seed, args.data_dir, checkpoint.train_config.encoder)
    scratch = train_conditions(setup.training, checkpoint.train_config, [], [checkpoint.train_config.seed])
    if scratch.backbone != checkpoint.backbone:
        print(
            f"error: {args.init} was trained on other data than --profile {args.profile} --seed {args.seed} gives "
            "(different vocabulary); pass the profile and seed it was trained with",
            file=sys.stderr,
        )
        return 2
    method = checkpoint.method
    trained = Condition(
        method, [checkpoint.build_model()], [checkpoint.train_config.seed], METHODS[method].adapt
    )
    protocol = replace(setup.protocol, baseline="scratch")
    result = run_protocol([*scratch.conditions, trained], setup.splits, checkpoint.backbone.encoder, protocol)
    print(result.table())
    for k in (k for k in protocol.ks if k > 0):
        print(describe_difference(result.get(method, k)))
    if args.json is not None:
        out = args.json
        name = out.name.removesuffix(".json")
        paths = write_protocol_results(
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


def run_fewshot(args: argparse.Namespace) -> int:
    """Adapt a checkpoint to K sentences of any UD treebank; print token accuracy with its 95% CI."""
    from xlmeta_lab.experiments import fewshot

    report = fewshot.fewshot_from_files(
        args.init,
        args.support,
        args.test,
        shots=args.shots,
        draws=args.draws,
        holdout_fraction=args.holdout,
        lrs=tuple(args.lrs),
        steps=tuple(args.steps),
        seed=args.seed,
    )
    print(report.describe())
    if args.json is not None:
        paths = report.write(args.json)
        print("written:", ", ".join(str(p) for p in paths.values()))
    return 0
