"""The finished parts of a few-shot protocol, kept on disk so a long evaluation that stops midway resumes.

Training already resumes from checkpoints; the protocol is the other long part of a full run (hours on a CPU
for notebook 05's fourteen source sets, with hundreds of fine-tuning runs each). Without this, a run killed in
its last hour would redo every evaluation before it. Each condition's budget and each (condition, seed)'s rows
are written as soon as they are done, under a key that hashes everything they depend on:

- the protocol's settings (Ks, draws, grid, draw seed, ...);
- the condition's name and what fine-tuning adapts;
- the model weights themselves (a retrained or changed model is another model);
- the sentences of the support pool, the holdout and, for rows, the test sets.

A part whose inputs changed gets a new key, so a stale part is never read back: it is recomputed. The files
are small JSON, written atomically (a killed write leaves the old file or none, never half of one).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xlmeta_lab.data.roles import FewShotSplits

#: Bumped when the layout of the cached parts changes, so old files are not misread.
CACHE_VERSION = 2  # 2: budgets keep their grid


def weights_digest(model: nn.Module) -> str:
    """sha256 of a model's parameters and buffers, by name: the same weights give the same digest."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(str(tensor.dtype).encode())
        # flattened first: a 0-dim tensor (a scalar parameter or buffer) cannot be viewed as bytes
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def sentences_digest(sentences: Sequence[Any]) -> str:
    """sha256 of the sentences' contents, in order (their dataclass ``repr``: words, tags, ids, source)."""
    digest = hashlib.sha256()
    for sentence in sentences:
        digest.update(repr(sentence).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def splits_digests(splits: FewShotSplits) -> dict[str, str]:
    """One digest per role: what a budget depends on (pool, holdout) and what rows also depend on (tests)."""
    return {
        "support_pool": sentences_digest(splits.support_pool),
        "holdout": sentences_digest(splits.holdout),
        "tests": hashlib.sha256(
            json.dumps(
                {name: sentences_digest(s) for name, s in splits.tests.items()}, sort_keys=True
            ).encode()
        ).hexdigest(),
    }


def part_key(**inputs: Any) -> str:
    """The key of one cached part: sha256 of its inputs as canonical JSON (``repr`` for anything else)."""
    text = json.dumps({"version": CACHE_VERSION, **inputs}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


class ProtocolCache:
    """Parts of a protocol (budgets, rows) in ``folder``, one JSON file per part, named by kind and key."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def _path(self, kind: str, key: str) -> Path:
        return self.folder / f"{kind}-{key[:32]}.json"

    def load(self, kind: str, key: str) -> Any | None:
        """The part saved under ``key``, or ``None`` when there is none (or it was saved under another key)."""
        path = self._path(kind, key)
        if not path.exists():
            return None
        record = json.loads(path.read_text(encoding="utf-8"))
        return record["value"] if record.get("key") == key else None

    def save(self, kind: str, key: str, value: Any, label: Mapping[str, Any]) -> None:
        """Write a part atomically; ``label`` (condition, seed) is kept beside it for a reader of the folder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(kind, key)
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps({"key": key, **label, "value": value}), encoding="utf-8")
        os.replace(partial, path)
