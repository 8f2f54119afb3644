"""``xlmeta data list | fetch | verify | inspect FILE``: see, get and check the data files.

Wired into the main CLI with ``add_data_commands(subparsers)``; each subcommand stores its
handler as ``func`` (``args -> exit code``).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from xlmeta_lab.data import sources
from xlmeta_lab.data.sib200 import read_labels, read_sib200
from xlmeta_lab.data.ud import read_conllu, tag_inventory


def _data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"folder laid out like the mirror (default: ${sources.ENV_DATA}, else the user cache)",
    )


def cmd_list(args: argparse.Namespace) -> int:
    """Print every registered file: key, where it sits in a data folder, license, pinned URL."""
    for item in sources.REGISTRY.values():
        print(f"{item.key:24} {item.relpath:40} {item.license}\n{'':24} {item.url}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """Resolve every file, downloading what the chosen folder lacks."""
    try:
        for path in sources.fetch(args.data_dir):
            print(f"OK  {path}")
    except sources.DataError as err:
        print(f"error: {err}")
        return 1
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Check each file's sha256 without downloading; exit 1 if any is missing or differs."""
    folder, why = sources.data_folder(args.data_dir)
    print(f"checking {folder} ({why})")
    rows = sources.verify(args.data_dir)
    for row in rows:
        status = "OK      " if row.ok else ("MISSING " if row.sha256 is None else "MISMATCH")
        print(f"{status} {row.key:24} {row.sha256 or '-':64} {row.problem}".rstrip())
    bad = [row for row in rows if not row.ok]
    print(f"{len(rows) - len(bad)}/{len(rows)} files OK")
    return 1 if bad else 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """Parse one CoNLL-U, SIB-200 TSV or labels file and summarise it (or show why it fails)."""
    path = Path(args.file)
    try:
        if path.suffix == ".conllu":
            sentences = read_conllu(path, lang=args.lang)
            counts = tag_inventory(sentences)
            print(
                f"{path}: {len(sentences)} sentences, {sum(counts.values())} words (syntactic, UPOS-tagged)"
            )
            print(f"{len(counts)} UPOS tags: " + ", ".join(f"{tag} {n}" for tag, n in counts.most_common()))
        elif path.suffix == ".tsv":
            examples = read_sib200(path)
            labels = Counter(e.label for e in examples)
            n_tokens = sum(len(e.text.split()) for e in examples)
            print(f"{path}: {len(examples)} sentences, {n_tokens} tokens (whitespace)")
            print(f"{len(labels)} labels: " + ", ".join(f"{label} {n}" for label, n in labels.most_common()))
        elif path.suffix == ".txt":
            labels = read_labels(path)
            print(f"{path}: {len(labels)} labels: {', '.join(labels)}")
        else:
            print(f"error: {path}: unknown kind; expected .conllu, .tsv (SIB-200) or labels .txt")
            return 2
    except (sources.FileFormatError, OSError, UnicodeDecodeError) as err:
        print(f"error: {err}")
        return 1
    return 0


def add_data_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``data`` and its subcommands on the main CLI's subparsers."""
    data = subparsers.add_parser("data", help="list, fetch, verify and inspect the data files")
    commands = data.add_subparsers(dest="data_command", required=True)
    commands.add_parser("list", help="registered files, licenses and sources").set_defaults(func=cmd_list)
    fetch = commands.add_parser("fetch", help="download what is missing (checked by sha256)")
    _data_dir_option(fetch)
    fetch.set_defaults(func=cmd_fetch)
    verify = commands.add_parser("verify", help="check every file's sha256; exit 1 on missing/mismatch")
    _data_dir_option(verify)
    verify.set_defaults(func=cmd_verify)
    inspect = commands.add_parser("inspect", help="parse one file and print counts and inventory")
    inspect.add_argument("file", help="a .conllu, SIB-200 .tsv or labels.txt file")
    inspect.add_argument("--lang", default="und", help="language code stored with the sentences")
    inspect.set_defaults(func=cmd_inspect)
    return data
