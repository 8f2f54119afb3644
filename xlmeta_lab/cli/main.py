"""xlmeta: run the workbook, benchmark the engine, manage data, train, evaluate, and deploy an adapted tagger.

Each subcommand lives beside the code it drives and registers itself here, so this file stays a table
of contents.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from xlmeta_lab import __version__
from xlmeta_lab.cli.data import add_data_commands
from xlmeta_lab.cli.deploy import add_deploy_commands
from xlmeta_lab.cli.experiments import add_experiment_commands
from xlmeta_lab.cli.studies import add_study_commands
from xlmeta_lab.teaching.profiles import PROFILE_NAMES


class _DefaultsShown(argparse.HelpFormatter):
    """Every option's help ends with its default, unless the help already explains it (or there is none)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            not action.option_strings
            or "default" in text
            or any(action.default is nothing for nothing in (None, False, argparse.SUPPRESS))
        ):
            return text
        return f"{text} (default: %(default)s)"


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = _DefaultsShown
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _show_defaults(child)


def _workbook(args: argparse.Namespace) -> int:
    from xlmeta_lab.teaching.workbook import WorkbookInterrupted, run_workbook, write_student_workbook

    if args.student is not None:
        write_student_workbook(
            Path(args.student) if args.student else None,
            selection=args.only,
            notebooks_dir=Path(args.notebooks_dir) if args.notebooks_dir else None,
        )
        return 0
    if args.nbgrader:
        from xlmeta_lab.teaching.exercises.grading import write_nbgrader_source
        from xlmeta_lab.teaching.workbook import find_notebooks_dir, select_notebooks

        folder = find_notebooks_dir(Path(args.notebooks_dir) if args.notebooks_dir else None)
        for path, keys in write_nbgrader_source(select_notebooks(folder, args.only), Path(args.nbgrader)).items():
            print(f"{path}: {len(keys)} graded exercises ({', '.join(keys)})")
        print(f"then, in {args.nbgrader}: `nbgrader generate_assignment NN_name` and `nbgrader autograde NN_name`")
        return 0
    if args.progress:
        from xlmeta_lab.teaching.exercises.progress import folder_progress, format_progress

        print(format_progress(folder_progress(Path(args.progress))))
        return 0
    if args.html:
        from xlmeta_lab.teaching.static_site import write_site

        print(f"open {write_site(Path(args.out), Path(args.html))} in a browser")
        return 0
    try:
        runs = run_workbook(
            profile=args.profile,
            selection=args.only,
            out_dir=Path(args.out),
            notebooks_dir=Path(args.notebooks_dir) if args.notebooks_dir else None,
            kernel=args.kernel,
            seed=args.seed,
            record_times=args.time,
            workers=args.workers,
        )
    except WorkbookInterrupted as stopped:
        print(f"stopped: {stopped}", file=sys.stderr)
        return 130
    return 0 if all(r.status == "ok" for r in runs) else 1


def _learner_waits() -> list:
    """What ``xlmeta bench`` times for the notebooks: the toy languages, and each exercise check of notebooks 02
    and 03 on its solution (a learner waits for one after every try; the notebooks answer within 2 s). An
    open-ended exercise's check measures the learner's own runs, so it has no one answer to time."""
    from functools import partial

    from xlmeta_lab.experiments.bench.waits import Wait, data_waits
    from xlmeta_lab.teaching.exercises import check, registered

    checks = [
        Wait(f"the check of exercise {e.key}", partial(check, e.key, e.solution), 2.0)
        for e in registered()
        if e.notebook in ("02", "03") and not e.open
    ]
    return [*data_waits(), *checks]


def _bench(args: argparse.Namespace) -> int:
    from xlmeta_lab.experiments.bench.engine import run_benchmark
    from xlmeta_lab.meta import resolve_device

    if args.protocol:
        from xlmeta_lab.experiments.bench.protocol import protocol_benchmark
        from xlmeta_lab.teaching.profiles import profile_settings

        settings = profile_settings("03_en_es_to_fr", "full")
        print(protocol_benchmark(settings, repeats=args.repeats or 3, threads=args.threads))
        return 0

    try:
        memory_device = None if args.no_memory else resolve_device(args.memory_device)
    except RuntimeError as error:  # e.g. cuda asked for on a machine without a GPU
        raise ValueError(f"--memory-device {args.memory_device}: {error}") from None
    rows = run_benchmark(
        repeats=args.repeats or 20,
        threads=args.threads,
        out=Path(args.json) if args.json else None,
        only=args.only or (),
        compiled=not args.eager_only,
        memory_device=memory_device,
        waits=() if args.no_waits else _learner_waits(),
    )
    if any(r.max_grad_diff > 1e-5 for r in rows):
        print(
            "error: the engine's meta-gradient differs from the plain loop's (max |dg| > 1e-5)",
            file=sys.stderr,
        )
        return 1
    below = [r.case for r in rows if not r.passed]
    if below and args.enforce_targets:
        print(f"error: {len(below)} row(s) below their speed target: {', '.join(below)}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xlmeta", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"xlmeta-lab {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an expected failure instead of one line"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    workbook = sub.add_parser(
        "workbook", help="execute every notebook with papermill into build/ and summarise"
    )
    workbook.add_argument(
        "--profile", choices=PROFILE_NAMES, default="quick", help="quick: CPU minutes; full: real numbers"
    )
    workbook.add_argument(
        "--only", nargs="+", metavar="NN", help="run only notebooks whose name starts with these (e.g. 01 03)"
    )
    workbook.add_argument("--out", default="build", help="folder for the executed notebooks")
    workbook.add_argument(
        "--notebooks-dir", default=None, help="where the .ipynb files are (default: ./notebooks)"
    )
    workbook.add_argument("--kernel", default="python3", help="Jupyter kernel name")
    workbook.add_argument("--seed", type=int, default=None, help="override every notebook's SEED")
    workbook.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes each notebook's protocol and training share their (condition, seed) units among, at "
        "most one per core (sets $XLMETA_WORKERS for the kernels; results are those of one process)",
    )
    workbook.add_argument(
        "--student",
        metavar="DIR",
        nargs="?",
        const="",
        default=None,
        help="instead of running, write student copies (solutions replaced by stubs) into DIR "
        "(without DIR: student/ beside the notebooks, the committed copies)",
    )
    workbook.add_argument(
        "--time",
        action="store_true",
        help="record each passed notebook's wall time in the timing file, the README's table and the notebooks",
    )
    workbook.add_argument(
        "--html",
        metavar="DIR",
        default=None,
        help="instead of running, render the executed notebooks of --out as web pages with an index into DIR",
    )
    workbook.add_argument(
        "--nbgrader",
        metavar="DIR",
        default=None,
        help="instead of running, write an nbgrader course folder into DIR: source/NN_name/ for each notebook "
        "(solution regions, locked check cells, points) and nbgrader_config.py",
    )
    workbook.add_argument(
        "--progress",
        metavar="DIR",
        default=None,
        help="instead of running, list which exercises each executed notebook under DIR has done "
        "(one sub-folder per learner, or none)",
    )
    workbook.set_defaults(func=_workbook)

    bench = sub.add_parser("bench", help="meta-steps/s of the engine against a plain per-task loop")
    bench.add_argument(
        "--repeats", type=int, default=None, help="interleaved timings per case (default 20; --protocol: 3)"
    )
    bench.add_argument(
        "--protocol",
        action="store_true",
        help="instead: fine-tuning steps/s and sentence passes/s of notebook 03's full protocol workload, "
        "stacked, in length buckets and spelled once, against a plain per-draw loop",
    )
    bench.add_argument("--threads", type=int, default=1, help="torch threads (1 gives comparable ratios)")
    bench.add_argument(
        "--json", default="results/bench.json", help="where to write the table as JSON ('' for none)"
    )
    bench.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="cases whose name contains NAME, e.g. sine (repeatable)",
    )
    bench.add_argument(
        "--eager-only",
        action="store_true",
        help="skip the torch.compile rows (minutes of compiling when cold)",
    )
    bench.add_argument(
        "--memory-device",
        default="auto",
        help="where the peak-memory rows run (CUDA memory statistics on a GPU, the resident set on a CPU)",
    )
    bench.add_argument("--no-memory", action="store_true", help="skip the peak-memory rows")
    bench.add_argument(
        "--no-waits", action="store_true", help="skip timing what a learner waits for (toy data, exercise checks)"
    )
    bench.add_argument(
        "--enforce-targets",
        action="store_true",
        help="exit 1 when a row is below its speed target (otherwise targets are only reported)",
    )
    bench.set_defaults(func=_bench)

    add_data_commands(sub)
    add_experiment_commands(sub)
    add_deploy_commands(sub)
    add_study_commands(sub)
    _show_defaults(parser)
    return parser


def _warning_line(message: Warning | str, *_: object, **__: object) -> None:
    """A warning as one ``warning:`` line, like an error's: the file and line of the code that raised it mean
    nothing to someone at a shell (``--debug`` keeps them)."""
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run one command. An expected failure (bad input, missing data or model, a checkpoint that does not fit)
    ends with one ``error:`` message and exit status 2; ``--debug`` shows its traceback instead. Anything else
    is a bug and keeps its traceback. Warnings are one ``warning:`` line each. Of several training processes on
    one machine, only the first prints the message: they all meet the same failure."""
    from xlmeta_lab.data.sources import DataError

    args = build_parser().parse_args(argv)
    args.command_line = list(sys.argv[1:] if argv is None else argv)  # what `train --nproc` starts again
    try:
        with warnings.catch_warnings():
            if not args.debug:
                warnings.showwarning = _warning_line
            return args.func(args)
    except (ValueError, OSError, DataError) as error:
        if args.debug:
            raise
        from xlmeta_lab.experiments.training.launch import is_local_leader

        if is_local_leader():
            print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
