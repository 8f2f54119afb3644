"""``xlmeta adapt`` and ``xlmeta tag``: take an adapted tagger out of the workbook and tag new text with it.

Examples::

    xlmeta adapt --init runs/ud-fomaml --support fr_gsd-ud-dev.conllu --shots 10 --out models/fr-fomaml-k10
    xlmeta adapt --init runs/ud-maml --support fr_gsd-ud-dev.conllu --shots 5 --steps 5 --out models/fr-maml-fast
    echo "Le chat dort sur le canapé ." | xlmeta tag --model models/fr-fomaml-k10
    xlmeta tag --model models/fr-fomaml-k10 phrases.txt     # one sentence per line, or a CoNLL-U file

``--steps`` with one value is a fixed step budget (its rate still chosen on the holdout): ``--steps 5`` adapts in the
few-step regime where notebook 03 measures what a meta-learned start is worth; the saved folder's provenance
records the budget and how long adaptation took.

``tag`` writes CoNLL-U to standard output and its notes and warnings (empty lines skipped, characters the model
does not know) to standard error, each on one line.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from xlmeta_lab.cli.experiments import add_adaptation_options, fewshot_config

STDIN = "-"


def add_deploy_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``adapt`` and ``tag`` to ``subparsers`` (from ``parser.add_subparsers(dest="command")``)."""
    adapt_parser = subparsers.add_parser(
        "adapt", help="fine-tune a checkpoint on K sentences and save the tagger as a folder of its own"
    )
    add_adaptation_options(adapt_parser)
    adapt_parser.add_argument("--out", type=Path, required=True, help="folder to save the adapted tagger in")
    adapt_parser.add_argument(
        "--overwrite", action="store_true", help="replace a tagger already saved in --out"
    )
    adapt_parser.set_defaults(func=run_adapt)

    tag_parser = subparsers.add_parser(
        "tag", help="tag raw text (one sentence per line) or CoNLL-U with a saved tagger; CoNLL-U out"
    )
    tag_parser.add_argument("--model", type=Path, required=True, help="folder written by xlmeta adapt")
    tag_parser.add_argument(
        "input", nargs="?", default=STDIN, help="text or CoNLL-U file; - or nothing reads standard input"
    )
    tag_parser.set_defaults(func=run_tag)


def run_adapt(args: argparse.Namespace) -> int:
    """Adapt, save, and say what was chosen."""
    from xlmeta_lab.experiments.deployment.adapted_tagger import adapt_checkpoint, check_model_folder

    check_model_folder(args.out, overwrite=args.overwrite)  # before any time is spent
    tagger = adapt_checkpoint(args.init, args.support, fewshot_config(args))
    tagger.save(args.out, overwrite=args.overwrite)
    config = tagger.provenance["config"]
    budget = config["budget"]
    seconds = config["seconds"]
    print(
        f"{args.init} ({config['init']['method']}) fine-tuned on K={args.shots} sentences of {args.support} "
        f"(lr={budget['lr']}, steps={budget['steps']}, chosen on the support file's holdout); saved to {args.out}\n"
        f"adaptation took {seconds['adaptation']:.2f} s ({budget['steps']} steps), the budget search "
        f"{seconds['budget_search']:.1f} s; both are in {args.out}'s provenance"
    )
    return 0


def run_tag(args: argparse.Namespace) -> int:
    """Tag every sentence of the input; CoNLL-U to standard output."""
    from xlmeta_lab.data.untagged import fill_upos, read_untagged, to_conllu, words_of
    from xlmeta_lab.experiments.deployment.adapted_tagger import load_tagger

    tagger = load_tagger(args.model)  # a bad folder fails before standard input is waited for
    text, name = _read_input(args.input)
    untagged = read_untagged(text, name)
    if untagged.skipped_lines:
        lines = ", ".join(map(str, untagged.skipped_lines))
        print(f"note: skipped {len(untagged.skipped_lines)} empty line(s): {lines}", file=sys.stderr)
    with _warnings_as_lines():
        tags = tagger([words_of(sentence) for sentence in untagged.sentences])
    for sentence, sentence_tags in zip(untagged.sentences, tags):
        fill_upos(sentence, sentence_tags)
    sys.stdout.write(to_conllu(untagged.sentences))
    return 0


def _read_input(source: str) -> tuple[str, str]:
    """The text to tag and the name its sentence ids start with (the file's stem, or ``stdin``)."""
    if source == STDIN:
        return sys.stdin.read(), "stdin"
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8"), path.stem
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start})") from None


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Warnings raised inside as ``warning: ...`` lines on standard error, not Python's two-line format."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
