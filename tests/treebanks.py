"""Tiny CoNLL-U files for command-line tests (``xlmeta fewshot`` reads treebanks from disk)."""

from __future__ import annotations

from pathlib import Path

from xlmeta_lab.data.ud import Sentence


def write_conllu(path: Path, sentences: list[Sentence]) -> Path:
    """``sentences`` as a minimal valid CoNLL-U file (ids ``tiny-0``, ``tiny-1``, ...; flat trees)."""
    lines = []
    for n, sentence in enumerate(sentences):
        lines += [f"# sent_id = tiny-{n}"]
        lines += [
            f"{i}\t{f}\t{f}\t{t}\t_\t_\t0\tdep\t_\t_"
            for i, (f, t) in enumerate(zip(sentence.forms, sentence.tags), 1)
        ]
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
