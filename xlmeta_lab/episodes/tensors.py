"""Sets of sentences as tensors, and the few operations the rest of the package does on them.

A set is :class:`Labeled` ``(x, y)``: ``x`` is any tuple of tensors with the sentence on the first axis
(:class:`TokenInputs` for the word tagger, :class:`xlmeta_lab.episodes.subwords.EncoderInputs` for a Hugging
Face encoder), ``y`` the targets, with :data:`IGNORE_INDEX` (-100) on padding, which ``F.cross_entropy``
skips by default, so the loss needs no separate mask. The helpers below stack, join, slice and move a set
field by field, so no code past the encoder needs to know which model it feeds. A meta-learning task is
:class:`xlmeta_lab.meta.Task` ``(support, query)`` of two such sets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from xlmeta_lab.meta import Task

IGNORE_INDEX = -100


class TokenInputs(NamedTuple):
    """``x`` of a set of sentences: word ids ``[S, L]`` and character ids ``[S, L, W]``."""

    word_ids: Tensor
    char_ids: Tensor


class Labeled(NamedTuple):
    """``(x, y)``: inputs and targets (tags ``[S, L]`` with -100 padding, or labels ``[S]``).

    ``x`` is any tuple of tensors with the sentence on the first axis (:class:`TokenInputs` for the word
    tagger, :class:`xlmeta_lab.episodes.subwords.EncoderInputs` for a Hugging Face encoder); the helpers below stack,
    join and slice it field by field, so no code past the encoder needs to know which it is.
    """

    x: tuple[Tensor, ...]
    y: Tensor


def map_inputs(fn: Callable[[Tensor], Tensor], x: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """``fn`` applied to each tensor of ``x``, keeping its tuple type (e.g. to slice or move it)."""
    return type(x)(*(fn(t) for t in x))


def take_sentences(data: Labeled, index: Tensor | slice | int) -> Labeled:
    """Sentences ``index`` of ``data`` (a slice, an index tensor, or one position of a stacked axis)."""
    return Labeled(map_inputs(lambda t: t[index], data.x), data.y[index])


def _combine(fn: Callable[[list[Tensor]], Tensor], sets: Sequence[Labeled]) -> Labeled:
    xs = [s.x for s in sets]
    return Labeled(type(xs[0])(*(fn(list(parts)) for parts in zip(*xs))), fn([s.y for s in sets]))


def stack_sets(sets: Sequence[Labeled]) -> Labeled:
    """Equally shaped ``(x, y)`` sets stacked on a new leading axis (draws or tasks, for vmap)."""
    return _combine(torch.stack, sets)


def concat_sets(sets: Sequence[Labeled]) -> Labeled:
    """Equally padded ``(x, y)`` sets as one mini-batch (e.g. the joint baseline's view of a meta-batch)."""
    return _combine(torch.cat, sets)


def padding_mask(y: Tensor) -> Tensor:
    """True where a tag is real; for accuracy counts (the loss needs no mask, see module doc)."""
    return y != IGNORE_INDEX


def stack_tasks(tasks: Sequence[Task]) -> Task:
    """Stack equally shaped tasks along a new first dimension (the meta-batch)."""
    return Task(stack_sets([t.support for t in tasks]), stack_sets([t.query for t in tasks]))
