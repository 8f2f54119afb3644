"""``xlmeta data list | fetch | verify | inspect FILE | pack FILE.zip | unpack FILE.zip``: see, get, check and
hand out the data files.

``fetch`` and ``pack`` take ``--notebooks 03 04``: only what those notebooks read (all files without it), so an
instructor can fetch before a session and hand out one checksummed zip instead of a room downloading at once.

Wired into the main CLI with ``add_data_commands(subparsers)``; each subcommand stores its
handler as ``func`` (``args -> exit code``).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from xlmeta_lab.data import bundle, sources
from xlmeta_lab.data.sib200 import read_labels, read_sib200
from xlmeta_lab.data.ud import read_conllu, tag_inventory
from xlmeta_lab.teaching.profiles import PROFILES

#: The workbook's notebooks, for ``--notebooks``.
_NOTEBOOKS = tuple(sorted(PROFILES))


def _data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"folder laid out like the mirror (default: ${sources.ENV_DATA}, else the user cache)",
    )


def _notebooks_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--notebooks",
        nargs="+",
        metavar="NN",
        default=None,
        help="only what these notebooks read (e.g. 01 02 03)",
    )


def cmd_list(args: argparse.Namespace) -> int:
    """Print every registered file: key, where it sits in a data folder, license, pinned URL."""
    for item in sources.REGISTRY.values():
        print(f"{item.key:24} {item.relpath:40} {item.license}\n{'':24} {item.url}")
    return 0


def notebook_keys(selection: list[str] | None) -> list[str]:
    """The registered files the notebooks starting with ``selection`` read (every file without a selection)."""
    if not selection:
        return list(sources.REGISTRY)
    from xlmeta_lab.teaching.workbook import (
        NOTEBOOK_DATA,
    )  # here: only a selection needs the workbook's table

    unknown = [s for s in selection if not any(name.startswith(s) for name in _NOTEBOOKS)]
    if unknown:
        raise ValueError(f"--notebooks {' '.join(unknown)}: no such notebook; known: {', '.join(_NOTEBOOKS)}")
    chosen = [name for name in _NOTEBOOKS if any(name.startswith(s) for s in selection)]
    for name in chosen:
        if not NOTEBOOK_DATA.get(name):
            print(f"{name}: reads no data files")
    return list(dict.fromkeys(key for name in chosen for key in NOTEBOOK_DATA.get(name, ())))


def cmd_fetch(args: argparse.Namespace) -> int:
    """Resolve the chosen files, downloading what the chosen folder lacks, each checked by sha256."""
    try:
        for key in notebook_keys(args.notebooks):
            print(f"OK  {sources.resolve(key, args.data_dir, download=True)}")
    except sources.DataError as err:
        print(f"error: {err}")
        return 1
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    """One zip of the chosen files (fetched first where missing), with a manifest of their sha256s."""
    keys = notebook_keys(args.notebooks)
    files = {sources.entry(key).relpath: sources.resolve(key, args.data_dir, download=True) for key in keys}
    target = bundle.pack(files, args.file)
    print(
        f"{target}: {len(files)} files, {target.stat().st_size / 2**20:.1f} MiB, sha256 {sources.sha256_of(target)}"
    )
    print(
        f"hand it out; each learner runs `xlmeta data unpack {target.name}`, or sets {sources.ENV_DATA}={target.name}"
    )
    return 0


def cmd_unpack(args: argparse.Namespace) -> int:
    """Check a bundle against its manifest and the pinned sha256s, then unpack it where the notebooks look."""
    folder = Path(args.data_dir) if args.data_dir else sources.cache_dir()
    bundle.unpack(args.file, folder)
    for relpath in bundle.manifest_of(args.file):
        item = next((i for i in sources.REGISTRY.values() if i.relpath == relpath), None)
        if item is None:
            raise ValueError(f"{args.file}: {relpath} is not a registered data file")
        sources.resolve(item.key, folder)  # the pinned sha256, not only the bundle's own manifest
    where = (
        "the user cache, where the notebooks look when no folder is given" if not args.data_dir else folder
    )
    print(f"{len(bundle.manifest_of(args.file))} files unpacked into {folder} ({where}) and checked")
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
    _notebooks_option(fetch)
    fetch.set_defaults(func=cmd_fetch)
    pack = commands.add_parser("pack", help="one checksummed zip of the data files, to hand out or upload")
    pack.add_argument("file", help="the zip to write, e.g. xlmeta-data.zip")
    _data_dir_option(pack)
    _notebooks_option(pack)
    pack.set_defaults(func=cmd_pack)
    unpack = commands.add_parser(
        "unpack", help="check a zip from `data pack` and unpack it where notebooks look"
    )
    unpack.add_argument("file", help="a zip written by `xlmeta data pack`")
    unpack.add_argument("--data-dir", default=None, help="unpack here instead of the user cache")
    unpack.set_defaults(func=cmd_unpack)
    verify = commands.add_parser("verify", help="check every file's sha256; exit 1 on missing/mismatch")
    _data_dir_option(verify)
    verify.set_defaults(func=cmd_verify)
    inspect = commands.add_parser("inspect", help="parse one file and print counts and inventory")
    inspect.add_argument("file", help="a .conllu, SIB-200 .tsv or labels.txt file")
    inspect.add_argument("--lang", default="und", help="language code stored with the sentences")
    inspect.set_defaults(func=cmd_inspect)
    return data
