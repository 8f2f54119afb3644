"""``xlmeta train`` and ``xlmeta evaluate``: the notebooks' experiments from a shell, resumable.

Register them on the main parser with :func:`add_experiment_commands`; each subcommand sets
``func(args) -> int`` (the exit status). Three tasks are wired: the toy languages, UD part-of-speech
tagging (``ud-pos``) and SIB-200 topic classification (``sib200``, trained on ``--languages``, by default
English and Spanish; French is always the target). ``xlmeta fewshot`` adapts any saved initialisation to any
UD treebank.

Examples::

    xlmeta train --task toy --method maml --profile quick --out runs/toy-maml
    xlmeta train --task toy --method maml --profile quick --out runs/toy-maml --resume   # after a kill
    xlmeta train --task ud-pos --method maml --device cuda --nproc 4 --out runs/ud-maml  # 4 GPUs
    xlmeta evaluate --init runs/toy-maml --task toy --profile quick --json results/toy-maml.json
    xlmeta train --task ud-pos --method fomaml --profile full --out runs/ud-fomaml
    xlmeta train --task ud-pos --method maml --model xlm-roberta-base --profile full --out runs/ud-xlmr-maml
    xlmeta train --task sib200 --method maml --profile quick --out runs/sib-maml --languages eng_Latn,spa_Latn,cat_Latn
    xlmeta evaluate --init runs/sib-maml --task sib200 --profile quick --languages eng_Latn,spa_Latn,cat_Latn
    xlmeta fewshot --init runs/ud-fomaml --support $XLMETA_DATA/UD_French-GSD/fr_gsd-ud-dev.conllu \\
        --test $XLMETA_DATA/UD_French-GSD/fr_gsd-ud-test.conllu --shots 5 --draws 5
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from xlmeta_lab.experiments.config import FewShotConfig
from xlmeta_lab.experiments.methods import METHODS
from xlmeta_lab.teaching.profiles import PROFILE_NAMES, profile_settings

TASKS = ("toy", "ud-pos", "sib200")


def _languages(args: argparse.Namespace) -> tuple[str, ...] | None:
    """``--languages`` as FLORES codes (sib200 only; default English and Spanish); refused, naming the known
    languages, when one is unknown or French, before any time is spent."""
    from xlmeta_lab.data.sib200 import SOURCE_LANGUAGES, parse_languages

    if args.languages is None:
        return SOURCE_LANGUAGES if args.task == "sib200" else None
    if args.task != "sib200":
        raise ValueError(f"--languages is for --task sib200; the {args.task} task's languages are fixed")
    return parse_languages(args.languages)


def _setup(
    task: str,
    profile: str,
    seed: int,
    data_dir: str | None = None,
    model: str | None = None,
    languages: tuple[str, ...] | None = None,
) -> Any:
    """The experiment behind ``--task``: training languages, configs and French splits of a profile.

    ``model``: ``None`` (or ``char-cnn``) for the model trained from scratch, else a Hugging Face
    encoder's name or folder (``ud-pos`` and ``sib200``). ``languages``: sib200's training languages.
    """
    from xlmeta_lab.experiments.studies import sib200, toy, udpos

    model = model or udpos.WORD_TAGGER
    if task == "toy":
        if model != udpos.WORD_TAGGER:
            raise ValueError(
                f"--model {model}: the toy languages are made up, no pretrained encoder knows them"
            )
        return toy.toy_setup(profile_settings(toy.NOTEBOOK, profile), seed)
    if task == "sib200":
        return sib200.sib_setup(
            profile_settings(sib200.NOTEBOOK, profile),
            seed,
            data_dir,
            model=model,
            languages=languages or sib200.SOURCE_LANGUAGES,
        )
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
        help="char-cnn (default: the model trained from scratch) or a Hugging Face encoder name or folder, "
        "e.g. xlm-roberta-base (ud-pos and sib200)",
    )
    train_parser.add_argument(
        "--languages",
        default=None,
        help="sib200 only: training languages, comma-separated FLORES codes (default eng_Latn,spa_Latn); "
        "French is the target and never trained on",
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
        "--languages",
        default=None,
        help="sib200 only: the languages --init was trained on (default eng_Latn,spa_Latn)",
    )
    eval_parser.add_argument(
        "--data-dir", default=None, help="UD/SIB-200 folder (default: $XLMETA_DATA or cache)"
    )
    eval_parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes to share the protocol's (condition, seed) units among, at most one per core "
        "(default: $XLMETA_WORKERS or 1); the results are those of one process",
    )
    eval_parser.set_defaults(func=run_evaluate)

    fewshot_parser = subparsers.add_parser(
        "fewshot", help="adapt a saved initialisation to any UD treebank from K sentences"
    )
    add_adaptation_options(fewshot_parser)
    fewshot_parser.add_argument("--test", type=Path, required=True, help="CoNLL-U file to score on")
    fewshot_parser.add_argument(
        "--json", type=Path, default=None, help="write the results here (JSON + CSVs)"
    )
    fewshot_parser.set_defaults(func=run_fewshot)


def add_adaptation_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``fewshot`` and ``adapt``: the initialisation, the support file, and the
    :class:`~xlmeta_lab.experiments.config.FewShotConfig` (K, draws, holdout, grid, seed) with its defaults."""
    default = {f.name: f.default for f in fields(FewShotConfig)}
    parser.add_argument("--init", type=Path, required=True, help="checkpoint file or its folder")
    parser.add_argument("--support", type=Path, required=True, help="CoNLL-U file to draw support sets from")
    parser.add_argument("--shots", type=int, required=True, help="K: sentences per support set")
    parser.add_argument(
        "--draws",
        type=int,
        default=default["draws"],
        help="support sets drawn; the fine-tuning budget is chosen over them",
    )
    parser.add_argument(
        "--holdout",
        type=float,
        default=default["holdout_fraction"],
        help="share of --support set aside to choose lr and steps",
    )
    parser.add_argument(
        "--lrs", type=float, nargs="+", default=list(default["lrs"]), help="fine-tuning lr grid"
    )
    parser.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=list(default["steps"]),
        help="fine-tuning steps grid; one value fixes the budget (e.g. 5: the few-step regime of notebook 03)",
    )
    parser.add_argument(
        "--seed", type=int, default=default["seed"], help="seed of the holdout split and the draws"
    )


def fewshot_config(args: argparse.Namespace) -> FewShotConfig:
    """The :class:`~xlmeta_lab.experiments.config.FewShotConfig` of :func:`add_adaptation_options`' options."""
    return FewShotConfig(
        shots=args.shots,
        draws=args.draws,
        holdout_fraction=args.holdout,
        lrs=tuple(args.lrs),
        steps=tuple(args.steps),
        seed=args.seed,
    )


def run_train(args: argparse.Namespace) -> int:
    """Train one initialisation on the task's en + es data with the profile's settings.

    ``--nproc N`` starts N processes of this same command (:func:`~xlmeta_lab.experiments.training.launch.launch_local`),
    which join one process group; under ``torchrun`` the command joins the group torchrun started.
    """
    from xlmeta_lab.experiments.training.launch import is_local_leader, launch_local, launched, process_group
    from xlmeta_lab.experiments.training.loop import TrainingDiverged, train
    from xlmeta_lab.experiments.training.run_folder import claimed_run_folder
    from xlmeta_lab.experiments.workers import available_cores
    from xlmeta_lab.meta import resolve_device
    from xlmeta_lab.meta.distributed import rank_and_world

    languages = _languages(args)
    if args.nproc < 1:
        raise ValueError(f"--nproc must be at least 1, got {args.nproc}")
    try:
        device = resolve_device(args.device)
    except RuntimeError as error:  # e.g. cuda asked for on a machine without a GPU
        raise ValueError(f"--device {args.device}: {error}") from None
    cores = available_cores()
    if args.nproc > cores and device.type == "cpu" and not launched():
        # refused before a process starts: each would take turns on the cores for minutes, without a word
        raise ValueError(
            f"--nproc {args.nproc}, but this machine lets the run use {cores} CPU core(s): more processes than "
            f"cores would only take turns on them; start at most {cores}"
        )
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
    # The folder is claimed (checked and locked) before any time is spent on data.
    with (
        process_group(device) as device,
        claimed_run_folder(args.out, resume=args.resume, overwrite=args.overwrite),
    ):
        setup = _setup(args.task, args.profile, args.seed, args.data_dir, args.model, languages)
        config = replace(setup.train_config, method=args.method, bf16=args.bf16)
        origin = {"task": args.task, "profile": args.profile}
        try:
            result = train(setup.training, config, args.out, resume=args.resume, device=device, origin=origin)
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
    from xlmeta_lab.experiments.deployment.fewshot import checkpoint_condition
    from xlmeta_lab.experiments.protocol.results import write_protocol_results
    from xlmeta_lab.experiments.protocol.run import check_support_and_tests, run_protocol
    from xlmeta_lab.experiments.studies.conditions import train_conditions
    from xlmeta_lab.experiments.training.checkpoints import (
        CheckpointMismatch,
        asked_otherwise,
        load_checkpoint,
        user_settings,
    )
    from xlmeta_lab.teaching.reports.wording import describe_difference

    languages = _languages(args)
    checkpoint = load_checkpoint(args.init)
    wanted = "topic" if args.task == "sib200" else "tagging"
    if checkpoint.train_config.task != wanted:
        raise ValueError(
            f"{args.init} holds a {checkpoint.train_config.task} model, not one for --task {args.task}"
        )
    saved = user_settings(checkpoint.train_config, checkpoint.origin)
    folder = args.init if args.init.is_dir() else args.init.parent
    told, flags = asked_otherwise(
        folder, saved, {"task": args.task, "profile": args.profile, "seed": args.seed}
    )
    if told:  # before the data is read: the same data split and vocabulary need the same settings
        raise CheckpointMismatch(f"{told}; pass the same {flags}")
    setup = _setup(
        args.task, args.profile, args.seed, args.data_dir, checkpoint.train_config.encoder, languages
    )
    scratch = train_conditions(setup.training, checkpoint.train_config, [], [checkpoint.train_config.seed])
    if scratch.backbone != checkpoint.backbone:
        print(
            f"error: {args.init} was trained on other data than --profile {args.profile} --seed {args.seed} gives "
            "(different vocabulary); pass the profile and seed"
            + (" and --languages" if args.task == "sib200" else "")
            + " it was trained with",
            file=sys.stderr,
        )
        return 2
    method = checkpoint.method
    trained = checkpoint_condition(checkpoint)
    splits, encoder = setup.splits, checkpoint.backbone.encoder
    check_support_and_tests([*splits.support_pool, *splits.holdout], splits.tests, encoder)
    protocol = replace(setup.protocol, baseline="scratch")
    result = run_protocol([*scratch.conditions, trained], splits, encoder, protocol, workers=args.workers)
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
    from xlmeta_lab.experiments.deployment import fewshot

    report = fewshot.fewshot_from_files(args.init, args.support, args.test, fewshot_config(args))
    print(report.describe())
    if args.json is not None:
        paths = report.write(args.json)
        print("written:", ", ".join(str(p) for p in paths.values()))
    return 0
