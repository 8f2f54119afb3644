"""A pretrained Hugging Face encoder as a part-of-speech tagger the meta-learning engine can train.

The word tagger of :mod:`xlmeta_lab.models.tagger` starts from nothing; this one starts from a multilingual
encoder (mBERT, XLM-R, ...) and asks whether MAML still helps when the initialisation already knows
French. Its inputs come from :mod:`xlmeta_lab.episodes.subwords` (each word read at its first sub-token).
Second-order MAML needs ``attn_implementation="eager"`` (fused kernels have no double backward; see
:mod:`xlmeta_lab.meta.attention`), so :meth:`EncoderTagger.from_pretrained` loads eager attention unless
told otherwise.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from transformers import AutoModel, PreTrainedModel, PreTrainedTokenizerBase

from xlmeta_lab.data.ud import UPOS_TAGS

#: Written next to the encoder's own files by :meth:`EncoderTagger.save_pretrained`.
TAGGER_CONFIG = "tagger.json"
TAGGER_HEAD = "tagger_head.safetensors"
_FORMAT = "xlmeta-lab EncoderTagger"
_FORMAT_VERSION = 1


class EncoderTagger(nn.Module):
    """A Hugging Face encoder, dropout and a linear head over tags, read at each word's first sub-token.

    ``forward(input_ids [B, T], attention_mask [B, T], word_starts [B, L]) -> logits [B, L, n_tags]``.
    The head is the attribute ``head``, so ANIL is ``adapt="head"`` in the engine. Padding words get
    logits too (of the ``[CLS]`` state); their ``-100`` targets keep them out of the loss.
    """

    def __init__(
        self, encoder: PreTrainedModel, tag_names: Sequence[str] = UPOS_TAGS, dropout: float = 0.1
    ) -> None:
        super().__init__()
        if not tag_names:
            raise ValueError("a tagger needs at least one tag name")
        self.encoder = encoder
        self.tag_names = tuple(tag_names)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, len(self.tag_names), dtype=encoder.dtype)

    @property
    def n_tags(self) -> int:
        return len(self.tag_names)

    def forward(self, input_ids: Tensor, attention_mask: Tensor, word_starts: Tensor) -> Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        # torch.gather rather than fancy indexing: one batched op with no Python loop over sentences,
        # which torch.func.vmap (the engine's batched path) maps without trouble.
        index = word_starts.unsqueeze(-1).expand(-1, -1, hidden.shape[-1])
        return self.head(self.dropout(torch.gather(hidden, 1, index)))

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike,
        n_tags: int | None = None,
        *,
        tag_names: Sequence[str] | None = None,
        attn_implementation: str = "eager",
        dropout: float = 0.1,
        **encoder_kwargs: Any,
    ) -> EncoderTagger:
        """A tagger on a Hugging Face encoder: a fresh head, or a whole tagger saved by :meth:`save_pretrained`.

        Arguments:
            name_or_path: a hub name (fetched by ``transformers`` unless cached) or a local folder. A
                folder holding ``tagger.json`` is a saved tagger: its head and tag names are restored.
            n_tags: the number of tags; optional, checked against ``tag_names`` (or the saved tagger).
            tag_names: the head's outputs, in order; default UPOS. Ignored for a saved tagger, whose
                names are part of what it learned.
            attn_implementation: ``"eager"`` (default) because second-order MAML needs it; ``"sdpa"`` is
                faster for first-order methods and evaluation.
            dropout: dropout before the head (the encoder keeps its own configured dropout); a saved
                tagger's value wins.
            encoder_kwargs: passed to ``AutoModel.from_pretrained`` (e.g. ``local_files_only=True``).

        A fresh head is initialised from PyTorch's global generator: call ``torch.manual_seed`` first for
        a reproducible one.
        """
        folder = Path(name_or_path)
        saved = _read_tagger_config(folder) if (folder / TAGGER_CONFIG).is_file() else None
        names = tuple(saved["tag_names"] if saved else (tag_names if tag_names is not None else UPOS_TAGS))
        if n_tags is not None and n_tags != len(names):
            where = f"the tagger saved in {folder}" if saved else "tag_names"
            raise ValueError(
                f"n_tags={n_tags}, but {where} has {len(names)} tags ({', '.join(names)}); "
                "pass tag_names naming every output"
            )
        encoder = AutoModel.from_pretrained(
            name_or_path, attn_implementation=attn_implementation, **encoder_kwargs
        )
        tagger = cls(encoder, names, saved["dropout"] if saved else dropout)
        if saved:
            head = load_file(folder / TAGGER_HEAD)
            tagger.head.load_state_dict({k: v.to(tagger.head.weight.dtype) for k, v in head.items()})
        return tagger

    def save_pretrained(
        self, directory: str | os.PathLike, tokenizer: PreTrainedTokenizerBase | None = None
    ) -> Path:
        """Save the whole tagger so :meth:`from_pretrained` rebuilds it exactly (e.g. a meta-trained init).

        The encoder is saved by Hugging Face (``config.json``, ``model.safetensors``), so the folder also
        loads with ``AutoModel.from_pretrained``; the head goes to ``tagger_head.safetensors`` and the tag
        names and dropout to ``tagger.json``. Pass the ``tokenizer`` to make the folder self-contained
        (``AutoTokenizer.from_pretrained(directory)``): an init is useless without the pieces it was
        trained on.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(directory)
        save_file(
            {k: v.detach().contiguous().cpu() for k, v in self.head.state_dict().items()},
            directory / TAGGER_HEAD,
        )
        config = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "n_tags": self.n_tags,
            "tag_names": list(self.tag_names),
            "dropout": self.dropout.p,
        }
        (directory / TAGGER_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        if tokenizer is not None:
            tokenizer.save_pretrained(directory)
        return directory


def _read_tagger_config(folder: Path) -> dict[str, Any]:
    """``tagger.json``, refused if it is not ours or from a newer version (better than a wrong head)."""
    config = json.loads((folder / TAGGER_CONFIG).read_text(encoding="utf-8"))
    if config.get("format") != _FORMAT or config.get("format_version", 0) > _FORMAT_VERSION:
        raise ValueError(
            f"{folder / TAGGER_CONFIG} is not a version-{_FORMAT_VERSION} {_FORMAT} file: "
            f"format={config.get('format')!r}, format_version={config.get('format_version')!r}"
        )
    if config["n_tags"] != len(config["tag_names"]):
        raise ValueError(
            f"{folder / TAGGER_CONFIG}: n_tags={config['n_tags']} but {len(config['tag_names'])} names"
        )
    return config
