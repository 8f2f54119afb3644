"""Scoring a tagger: predictions, token accuracy and per-tag accuracy, counting real words only.

Padding carries the target -100 and is never counted. Inputs go to the weights' device chunk by chunk and
the tags come back to the CPU, so an evaluation set never has to fit on the GPU at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from xlmeta_lab.data.ud import UPOS_TAGS, Sentence
from xlmeta_lab.episodes.encoders import SentenceEncoder, encode_buckets
from xlmeta_lab.episodes.tensors import IGNORE_INDEX, Labeled, TokenInputs, stack_sets
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.episodes.word_types import SpelledOnce, spell_once
from xlmeta_lab.meta import call_model
from xlmeta_lab.meta.params import Params, tree_to
from xlmeta_lab.models.tagger import SpelledOnceTagger, Tagger


@torch.no_grad()
def predict(model: nn.Module, params: Params | None, x: tuple[Tensor, ...], chunk: int = 256) -> Tensor:
    """Tag ids ``[S, L]`` for ``x`` with ``params`` (``None``: the model's own weights), in chunks.

    Inputs go to the weights' device chunk by chunk and the tags come back to the CPU, so an evaluation
    set never has to fit on the GPU at once.
    """
    weights = params if params is not None else dict(model.named_parameters())
    device = next(iter(weights.values())).device
    outs = [
        call_model(model, weights, tree_to(tuple(t[i : i + chunk] for t in x), device)).argmax(-1).cpu()
        for i in range(0, x[0].shape[0], chunk)
    ]
    return torch.cat(outs)


def token_accuracy(model: nn.Module, params: Params | None, data: Labeled) -> float:
    """Share of real words (targets != -100) tagged correctly; padding is never counted."""
    correct, total = correct_counts(model, params, data)
    return correct / total if total else float("nan")


def count_correct(predicted: Tensor, y: Tensor) -> tuple[int, int]:
    """``(correct, total)`` over the real words of ``y`` (targets != -100): padding is neither right nor wrong."""
    real = y != IGNORE_INDEX
    return int((predicted == y)[real].sum()), int(real.sum())


def correct_counts(model: nn.Module, params: Params | None, data: Labeled) -> tuple[int, int]:
    """``(correct, total)`` over the real words of ``data``: the numerator and denominator of accuracy."""
    return count_correct(predict(model, params, data.x), data.y)


def scoring_sets(model: nn.Module, buckets: Sequence[Labeled]) -> list[Labeled] | SpelledOnce:
    """An evaluation set's length buckets (``encode_buckets``) as ``model`` is scored on them fastest: for a word
    tagger, the whole set's words spelled once (:func:`~xlmeta_lab.episodes.word_types.spell_once`), so its
    character CNN reads each spelling once however often the word occurs; any other model, the buckets as they
    are. Prepare a set once per model and score it after every fine-tuning (:func:`counts_over`)."""
    if isinstance(model, Tagger) and buckets and all(isinstance(b.x, TokenInputs) for b in buckets):
        return spell_once([stack_sets([bucket]) for bucket in buckets])
    return list(buckets)


def counts_over(
    model: nn.Module, params: Mapping[str, Any] | None, buckets: Sequence[Labeled] | SpelledOnce
) -> tuple[int, int]:
    """``(correct, total)`` summed over an evaluation set's length buckets (``encode_buckets``), or over the same
    set spelled once (:func:`scoring_sets`)."""
    if isinstance(buckets, SpelledOnce):
        pairs = _spelled_counts(model, params, buckets)
    else:
        pairs = [correct_counts(model, params, bucket) for bucket in buckets]
    return sum(c for c, _ in pairs), sum(t for _, t in pairs)


@torch.no_grad()
def _spelled_counts(
    model: nn.Module, params: Mapping[str, Any] | None, spelled: SpelledOnce
) -> list[tuple[int, int]]:
    """Each bucket's ``(correct, total)`` for a set spelled once (one draw): the spellings read once, every bucket
    in one call."""
    weights = dict(params) if params is not None else dict(model.named_parameters())
    device = next(iter(weights.values())).device
    inputs = tree_to(spelled.draw_inputs(0), device)
    logits = call_model(SpelledOnceTagger(model), {f"model.{n}": t for n, t in weights.items()}, inputs)
    return [count_correct(out.argmax(-1).cpu(), s.y[0]) for out, s in zip(logits, spelled.sets)]


def accuracy_per_draw(
    model: nn.Module, stacked: Mapping[str, Any], data: Sequence[Labeled] | SpelledOnce
) -> list[tuple[int, int]]:
    """``(correct, total)`` on ``data`` for each draw's weights (``stacked`` has the draws on a leading axis)."""
    n_draws = next(iter(stacked.values())).shape[0]
    return [counts_over(model, {n: t[d] for n, t in stacked.items()}, data) for d in range(n_draws)]


@torch.no_grad()
def per_tag_accuracy(
    model: nn.Module,
    params: Mapping[str, Tensor] | None,
    sentences: Sequence[Sentence],
    encoder: SentenceEncoder | Vocab,
    max_word_len: int = 16,
) -> dict[str, tuple[int, int]]:
    """``{tag: (correct, total)}`` over the real words of ``sentences``: which tags transfer, which do not.

    ``encoder`` encodes the sentences for ``model`` (a bare :class:`Vocab`: words cut to ``max_word_len``).
    """
    counts: dict[str, list[int]] = {tag: [0, 0] for tag in UPOS_TAGS}
    for bucket in encode_buckets(sentences, encoder, max_word_len):
        predicted = predict(model, dict(params) if params is not None else None, bucket.x)
        for tag, (correct, total) in tag_counts(predicted, bucket.y).items():
            counts[tag][0] += correct
            counts[tag][1] += total
    return {tag: (c, t) for tag, (c, t) in counts.items() if t}


def tag_counts(predicted: Tensor, y: Tensor, tags: Sequence[str] = UPOS_TAGS) -> dict[str, tuple[int, int]]:
    """``{tag: (correct, total)}`` with words grouped by their *gold* tag (``tags[y]``), padding left out; only
    tags that occur. Accuracy per gold tag is recall: how many of the real NOUNs were tagged NOUN."""
    real = y != IGNORE_INDEX
    gold, hits = y[real], (predicted == y)[real]
    totals = torch.bincount(gold, minlength=len(tags))
    correct = torch.bincount(gold[hits], minlength=len(tags))
    return {tags[i]: (int(correct[i]), int(totals[i])) for i in range(len(tags)) if totals[i]}
