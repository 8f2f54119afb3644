"""Command-line test helpers: tiny CoNLL-U files (``xlmeta fewshot`` reads treebanks from disk), the
``xlmeta fewshot`` command line for the ``tiny`` fixture, and the ``xlmeta train`` command line for the UD task."""

from __future__ import annotations

from pathlib import Path

from xlmeta_lab.data.ud import Sentence


def write_conllu(path: Path, sentences: list[Sentence]) -> Path:
    """``sentences`` as a minimal valid CoNLL-U file (flat trees) under their own ids; one without an id gets
    ``<file stem>-<n>``, so two files never share an id by accident."""
    lines = []
    for n, sentence in enumerate(sentences):
        lines += [f"# sent_id = {sentence.sent_id or f'{path.stem}-{n}'}"]
        lines += [
            f"{i}\t{f}\t{f}\t{t}\t_\t_\t0\tdep\t_\t_"
            for i, (f, t) in enumerate(zip(sentence.forms, sentence.tags), 1)
        ]
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ud_train_argv(data_dir: Path, out: Path, *options: str, method: str = "fomaml") -> list[str]:
    """``xlmeta train --task ud-pos`` for ``method`` on the data mirror, writing to ``out``."""
    return [
        "train",
        "--task",
        "ud-pos",
        "--method",
        method,
        *options,
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
    ]


def fewshot_argv(tiny: dict[str, Path], support: Path | None = None, test: Path | None = None) -> list[str]:
    """``xlmeta fewshot`` for the ``tiny`` fixture's checkpoint, on its files unless others are given."""
    return [
        "fewshot",
        "--init",
        str(tiny["init"]),
        "--support",
        str(support or tiny["support"]),
        "--test",
        str(test or tiny["test"]),
    ]
