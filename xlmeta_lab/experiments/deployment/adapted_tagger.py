"""Deployment: adapt a checkpoint to K sentences, save the tagger as a folder of its own, load it, tag text.

:func:`adapt_checkpoint` chooses the fine-tuning budget exactly as ``xlmeta fewshot`` does (same holdout split,
grid and budget draws, through :mod:`xlmeta_lab.experiments.deployment.fewshot`) and fine-tunes on its first K-sentence draw,
so the saved tagger is the one ``fewshot`` scores as draw 0. :meth:`AdaptedTagger.save` writes a folder that needs
nothing else, neither the checkpoint nor the original encoder::

    xlmeta-model.json    format marker, kind, tag set, model config, the list of files below
    provenance.json      init checkpoint and support file (paths, sha256), K, sentence ids, budget, seed,
                         package versions, git commit
    weights.safetensors  the word tagger's weights (weights.pt, read with weights_only=True, without safetensors)
    vocab.json           the word tagger's word and character inventories
  or, for a Hugging Face encoder, what EncoderTagger.save_pretrained writes: config.json and model.safetensors
  (the adapted encoder), tagger.json and tagger_head.safetensors (tag names, head), and the tokenizer's files.

:func:`load_tagger` reads such a folder back; the tagger it returns is called with sentences and returns tags.
Why here and not in ``models/``: adapting goes through the few-shot protocol's budget and tagging through
:func:`~xlmeta_lab.experiments.adaptation.scoring.predict`, and ``models/`` never reaches up into ``experiments/``; the
folder format is written and read in this one module.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from xlmeta_lab.data.sources import sha256_of
from xlmeta_lab.data.ud import UPOS_TAGS, Sentence
from xlmeta_lab.data.untagged import tokenize_line
from xlmeta_lab.episodes.samplers import support_draws
from xlmeta_lab.episodes.tensors import IGNORE_INDEX
from xlmeta_lab.episodes.vocab import UNK
from xlmeta_lab.experiments.adaptation.finetune import finetune
from xlmeta_lab.experiments.adaptation.scoring import predict
from xlmeta_lab.experiments.config import FewShotConfig
from xlmeta_lab.experiments.deployment.fewshot import (
    checkpoint_condition,
    fewshot_protocol,
    split_support_file,
)
from xlmeta_lab.experiments.protocol.run import choose_budget
from xlmeta_lab.experiments.results import provenance, write_json
from xlmeta_lab.experiments.training.checkpoints import CHECKPOINT_NAME, checkpoint_file, load_checkpoint
from xlmeta_lab.meta.params import Params
from xlmeta_lab.models.backbones import (
    ENCODER_KIND,
    Backbone,
    EncoderBackbone,
    WordTaggerBackbone,
    vocab_of,
)
from xlmeta_lab.models.registry import backbone_from_checkpoint

MODEL_FILE = "xlmeta-model.json"
PROVENANCE_FILE = "provenance.json"
VOCAB_FILE = "vocab.json"
WORD_KIND = "word-tagger"
_FORMAT = "xlmeta-lab adapted tagger"
_FORMAT_VERSION = 1
#: Sentences encoded at once when tagging: a long file never becomes one padded tensor.
_CHUNK = 64
#: The encoders expect gold tags; text to tag has none, so each word carries this one, which is never read.
_NO_TAG = "X"


@dataclass
class AdaptedTagger:
    """A tagger adapted to a language: call it with sentences, get one UPOS tag per word.

    A sentence is a string (split into words by :func:`xlmeta_lab.data.untagged.tokenize_line`) or a list of
    words. ``provenance`` says where the weights came from.

    Example:
        >>> tagger = load_tagger("models/fr-fomaml-k10")  # doctest: +SKIP
        >>> tagger(["Le chat dort ."])  # doctest: +SKIP
        [['DET', 'NOUN', 'VERB', 'PUNCT']]
    """

    model: nn.Module
    backbone: Backbone
    provenance: dict[str, Any]

    @property
    def tags(self) -> tuple[str, ...]:
        """The head's outputs in order: the tag set."""
        return tuple(getattr(self.model, "tag_names", UPOS_TAGS))

    def __call__(self, sentences: Sequence[str | Sequence[str]]) -> list[list[str]]:
        words = [_words(sentence, number) for number, sentence in enumerate(sentences, start=1)]
        _warn_unknown_characters(words, self.knows_character)
        tags, unplaced = [], 0
        for start in range(0, len(words), _CHUNK):
            chunk, missing = self._tag_chunk(words[start : start + _CHUNK])
            tags += chunk
            unplaced += missing
        if unplaced:
            warnings.warn(
                f"{unplaced} word(s) lie past the encoder's sub-token limit and were not read: tagged {_NO_TAG}; "
                "split long sentences",
                stacklevel=2,
            )
        return tags

    def knows_character(self, char: str) -> bool:
        """Whether the model reads ``char`` as itself rather than as its unknown symbol."""
        vocab = vocab_of(self.backbone)
        if vocab is not None:
            return vocab.char_ids(char, 1) != [UNK]
        tokenizer = self.backbone.tokenizer
        return tokenizer(char, add_special_tokens=False)["input_ids"] != [tokenizer.unk_token_id]

    def save(self, out: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the self-contained folder ``out`` (layout in the module doc): to a temporary folder beside it,
        then renamed into place, so ``out`` never holds half a model. Refuses a folder that already holds one
        unless ``overwrite``."""
        out = Path(out)
        check_model_folder(out, overwrite=overwrite)
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            description = _save_network(self.model, self.backbone, tmp)
            write_json(tmp / PROVENANCE_FILE, self.provenance)
            _same_mode_as(tmp / PROVENANCE_FILE, tmp)
            header = {"format": _FORMAT, "format_version": _FORMAT_VERSION, "tags": list(self.tags)}
            files = sorted(p.name for p in tmp.iterdir())  # what a reader checks is there
            write_json(tmp / MODEL_FILE, {**header, **description, "files": files})
            _move_into_place(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out

    def _tag_chunk(self, words: list[list[str]]) -> tuple[list[list[str]], int]:
        """Tags of a few sentences, and how many words had no slot in the encoding (past a sub-token limit)."""
        sentences = [Sentence(tuple(w), (_NO_TAG,) * len(w), "", "target", "input") for w in words]
        encoded = self.backbone.encoder.encode(sentences)
        predicted = predict(self.model, None, encoded.x).tolist()
        placed = (encoded.y != IGNORE_INDEX).tolist()
        tags = [
            [self.tags[p] if ok else _NO_TAG for p, ok in zip(row[: len(w)], slots[: len(w)])]
            for w, row, slots in zip(words, predicted, placed)
        ]
        return tags, sum(len(w) - sum(slots[: len(w)]) for w, slots in zip(words, placed))


def adapt_checkpoint(
    init: str | os.PathLike, support: str | os.PathLike, config: FewShotConfig
) -> AdaptedTagger:
    """Fine-tune the checkpoint ``init`` on K=``config.shots`` sentences of the CoNLL-U file ``support``.

    The budget (step size, steps) is chosen as ``xlmeta fewshot`` chooses it with the same ``config``: on a
    held-out share of ``support``, over ``config.draws`` K-sentence draws from the rest; the tagger is then
    fine-tuned on the first draw, which is ``fewshot``'s draw 0. Fine-tuning adapts what the checkpoint's method
    adapts (ANIL: the head), with the same SGD update as its inner loop.
    """
    checkpoint = load_checkpoint(init)
    holdout, pool = split_support_file(support, config)
    condition = checkpoint_condition(checkpoint)
    encoder = checkpoint.backbone.encoder
    started = time.perf_counter()
    budget = choose_budget(condition, pool, holdout, encoder, fewshot_protocol(checkpoint, config))
    chosen_in = time.perf_counter() - started
    chosen = support_draws(pool, config.shots, 1, config.seed)[0]
    model = condition.models[0]
    started = time.perf_counter()
    adapted = finetune(model, encoder.encode(chosen), lr=budget.lr, steps=budget.steps, adapt=condition.adapt)
    adapted_in = time.perf_counter() - started
    _set_parameters(model, adapted)
    init_file = checkpoint_file(init).resolve()
    record = {
        "init": {
            "path": str(init_file),
            "sha256": sha256_of(init_file),
            "method": checkpoint.method,
            "step": checkpoint.step,
            "train_config": checkpoint.train_config.to_dict(),
        },
        "support": {
            "path": str(Path(support).resolve()),
            "sha256": sha256_of(support),
            "sentences": len(holdout) + len(pool),
            "holdout": len(holdout),
        },
        "fewshot": config.to_dict(),
        "shots": config.shots,
        "sentence_ids": [s.sent_id for s in chosen],
        "budget": {"lr": budget.lr, "steps": budget.steps, "holdout_accuracy": budget.holdout_acc},
        # wall seconds on this machine: the budget search (every grid point on every draw) and the adaptation
        # itself (one draw, the chosen budget), which is what a deployment pays per new language or domain
        "seconds": {"budget_search": round(chosen_in, 3), "adaptation": round(adapted_in, 3)},
    }
    return AdaptedTagger(model, checkpoint.backbone, provenance(record, config.seed))


def load_tagger(folder: str | os.PathLike, *, device: str | torch.device = "cpu") -> AdaptedTagger:
    """The tagger saved in ``folder`` by ``xlmeta adapt`` (or :meth:`AdaptedTagger.save`), ready to tag.

    Example: ``load_tagger("models/fr-fomaml-k10")(["Le chat dort ."])`` gives ``[["DET", "NOUN", ...]]``.
    """
    folder = Path(folder)
    description = read_model_description(folder)
    config = description["model_config"]
    if description["kind"] == ENCODER_KIND:  # the encoder, its head and its tokenizer are in the folder
        backbone = backbone_from_checkpoint({**config, "name_or_path": str(folder)}, None, max_word_len=0)
        model = backbone.new_model(0)
    else:
        vocab = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
        backbone = backbone_from_checkpoint(config, vocab, description["max_word_len"])
        model = backbone.new_model(0)
        _load_weights(model, folder / description["weights"])
    record = json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
    tagger = AdaptedTagger(model.to(device).eval(), backbone, record)
    if list(tagger.tags) != description["tags"]:
        raise ValueError(f"{folder / MODEL_FILE} lists other tags than its model predicts")
    return tagger


def read_model_description(folder: Path) -> dict[str, Any]:
    """``xlmeta-model.json`` of a saved tagger, refused (saying what is missing) if the folder is not one."""
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no saved tagger at {folder}: not a folder (give the folder xlmeta adapt wrote)"
        )
    path = folder / MODEL_FILE
    if not path.is_file():
        hint = (
            f"it holds a training checkpoint: make a tagger of it with xlmeta adapt --init {folder}"
            if (folder / CHECKPOINT_NAME).exists()
            else "xlmeta adapt --out writes one beside the weights"
        )
        raise ValueError(f"{folder} is not a saved tagger: it has no {MODEL_FILE} ({hint})")
    try:
        description = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a saved tagger's description ({error})") from None
    if not isinstance(description, dict) or description.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a saved tagger's description (no format marker)")
    if description.get("format_version", 0) > _FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {description['format_version']}, newer than this xlmeta-lab reads "
            f"({_FORMAT_VERSION}); upgrade xlmeta-lab"
        )
    missing = [name for name in description["files"] if not (folder / name).is_file()]
    if missing:
        raise ValueError(
            f"{folder} is an incomplete saved tagger: {', '.join(missing)} missing; copy the whole folder"
        )
    return description


def check_model_folder(out: Path, *, overwrite: bool) -> None:
    """Refuse ``out`` before any time is spent: a file, a folder of other files, or a saved tagger without
    ``overwrite`` (a folder holds one tagger, and other files in it would be lost when it is replaced)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a folder for the saved tagger")
    if (out / MODEL_FILE).exists():
        if not overwrite:
            raise ValueError(
                f"{out} already holds a saved tagger; save to another --out, or replace it with --overwrite"
            )
    elif out.is_dir() and any(out.iterdir()):
        raise ValueError(f"--out {out} holds other files; give a new or empty folder for the saved tagger")


def _words(sentence: str | Sequence[str], number: int) -> list[str]:
    words = [form for form, _ in tokenize_line(sentence)] if isinstance(sentence, str) else list(sentence)
    if not words:
        raise ValueError(f"sentence {number} is empty: there is nothing to tag")
    return words


def _warn_unknown_characters(words: list[list[str]], knows: Callable[[str], bool]) -> None:
    """Warn, with their share, about characters the model cannot read: they all look alike to it."""
    counts = Counter(char for sentence in words for form in sentence for char in form)
    unknown = sorted(char for char in counts if not knows(char))
    if unknown:
        n, total = sum(counts[c] for c in unknown), sum(counts.values())
        warnings.warn(
            f"{n / total:.1%} of the characters to tag ({n} of {total}) are unknown to the model "
            f"({' '.join(unknown[:10])}{' ...' if len(unknown) > 10 else ''}); it reads each as its unknown symbol",
            stacklevel=3,
        )


def _save_network(model: nn.Module, backbone: Backbone, folder: Path) -> dict[str, Any]:
    """Write the network and its inventory into ``folder``; return what ``xlmeta-model.json`` says of them."""
    if isinstance(backbone, EncoderBackbone):
        model.save_pretrained(folder, tokenizer=backbone.tokenizer)
        return {"kind": ENCODER_KIND, "model_config": {**backbone.describe(), "name_or_path": "."}}
    if not isinstance(backbone, WordTaggerBackbone):
        raise TypeError(f"cannot save a tagger on a {type(backbone).__name__}")
    write_json(folder / VOCAB_FILE, backbone.vocab_dict())
    return {
        "kind": WORD_KIND,
        "model_config": backbone.describe(),
        "max_word_len": backbone.max_word_len,
        "weights": _write_weights(model.state_dict(), folder),
    }


def _has_safetensors() -> bool:
    return importlib.util.find_spec("safetensors") is not None


def _write_weights(state: dict[str, Tensor], folder: Path) -> str:
    """safetensors where installed (plain tensors, nothing executable); else torch.save, read back with
    ``weights_only=True``, which refuses anything but tensors and containers."""
    tensors = {name: t.detach().contiguous().cpu() for name, t in state.items()}
    if _has_safetensors():
        from safetensors.torch import save_file

        save_file(tensors, folder / "weights.safetensors")
        return "weights.safetensors"
    torch.save(tensors, folder / "weights.pt")
    return "weights.pt"


def _load_weights(model: nn.Module, path: Path) -> None:
    """Load the word tagger's weights; a damaged or foreign file is one error naming it, not a traceback."""
    if path.suffix == ".safetensors" and not _has_safetensors():
        raise ValueError(
            f"{path} is a safetensors file: install the package to read it (pip install safetensors)"
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as error:  # noqa: BLE001 - truncated files and other models' weights fail in many ways
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise ValueError(
            f"{path} cannot be loaded into this tagger (damaged, or another model's: {first})"
        ) from None


def _same_mode_as(reference: Path, folder: Path) -> None:
    """Give every file in ``folder`` the permissions of ``reference`` (a file written with ``open``, so under the
    user's umask): safetensors writes its files private (0600) whatever the umask, and a tagger copied to a
    server would then be unreadable there for anyone else."""
    mode = reference.stat().st_mode & 0o777
    for path in folder.iterdir():
        if path.is_file():
            path.chmod(mode)


def _set_parameters(model: nn.Module, params: Params) -> None:
    """Copy adapted weights (from :func:`~xlmeta_lab.experiments.adaptation.finetune.finetune`) into ``model`` itself."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name in params:
                parameter.copy_(params[name])


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished ``tmp`` to ``out``; a tagger already there (allowed by --overwrite) goes only after."""
    if not out.exists():
        tmp.rename(out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old)
