"""A set's words spelled once per word type, for fine-tuning and scoring a tagger that reads characters.

The word tagger's character CNN is most of its cost: on notebook 03's full profile it took about two thirds of a
forward pass, and fine-tuning ran it on every position of a support set at every step, padding included. A K = 50
French support set has about 1,100 words (about 1,650 positions in length buckets, 2,300 padded to one length)
but only about 600 distinct spellings, four fifths of them 8 characters or shorter. A word's character features
depend on its spelling alone, so each step computes them once per spelling, each spelling read at the width of
its group (:data:`SPELLING_WIDTHS`), and hands every position the row of its spelling. The numbers are the same
up to float rounding (a spelling's gradient is summed before the CNN's backward pass, not inside it), not bit for
bit. A test set is scored the same way, its whole set spelled once.

:func:`spell_once` turns sets of :class:`~xlmeta_lab.episodes.tensors.TokenInputs` (one set, or length buckets,
stacked on a leading draw axis) into :class:`SpelledOnce`: each draw's spellings, and per set the word ids and
each position's spelling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F

from xlmeta_lab.episodes.tensors import Labeled, TokenInputs


class TypedTokens(NamedTuple):
    """``x`` of a set whose words are spelled elsewhere: word ids ``[S, L]`` and each position's row in its
    draw's :attr:`SpelledOnce.spellings` ``[S, L]`` (padding points at an all-padding spelling)."""

    word_ids: Tensor
    spelling_index: Tensor


class SpelledOnce(NamedTuple):
    """Support sets stacked on a draw axis, with their spellings apart: ``spellings`` are each draw's distinct
    character rows ``[D, T_g, W_g]`` in groups by length, group ``g`` cut to its width ``W_g`` (all-padding
    rows fill a draw with fewer than ``T_g``); ``sets`` the sets (one, or the length buckets) with
    :class:`TypedTokens` inputs ``[D, S, L]`` (rows of the groups concatenated) and their tags."""

    spellings: tuple[Tensor, ...]
    sets: list[Labeled]

    def draw_inputs(self, draw: int) -> tuple[tuple[Tensor, ...], ...]:
        """Draw ``draw``'s inputs as :class:`~xlmeta_lab.models.tagger.SpelledOnceTagger` reads them: its
        spelling groups, then each set's ``(word_ids, spelling_index)``."""
        return (
            tuple(group[draw] for group in self.spellings),
            *(tuple(t[draw] for t in s.x) for s in self.sets),
        )


#: Spellings of at most 4 and at most 8 characters are read at those widths, the rest at the encoder's
#: (notebook 03: 14). A French K = 50 support set's ~600 spellings are a third, a half and a fifth of them, so the
#: character CNN reads about 0.55 of the positions it would at the full width. Padding past a word's last
#: character reads as zeros either way, so a word's features do not depend on the width it is read at.
SPELLING_WIDTHS = (4, 8)


def spell_once(sets: Sequence[Labeled], widths: Sequence[int] = SPELLING_WIDTHS) -> SpelledOnce:
    """``sets`` (each stacked on a leading draw axis, :class:`TokenInputs` inputs) with every draw's words
    spelled once, in groups of at most ``widths`` characters and the rest: see the module doc. Every position,
    padding included, keeps its own character row, so each set's ``char_ids`` can be rebuilt from the groups
    (:func:`spelled_chars`)."""
    if not sets or not all(isinstance(s.x, TokenInputs) for s in sets):
        raise TypeError("spell_once reads word and character ids (TokenInputs): the word tagger's inputs")
    n_draws, width = sets[0].y.shape[0], sets[0].x.char_ids.shape[-1]
    bounds = torch.tensor(sorted(w for w in set(widths) if 0 < w < width) + [width])
    draws = []
    for d in range(n_draws):
        rows = torch.cat([s.x.char_ids[d].reshape(-1, width) for s in sets])
        unique, inverse = torch.unique(rows, dim=0, return_inverse=True)
        draws.append((unique, inverse, torch.bucketize((unique != 0).sum(dim=1), bounds)))
    counts = torch.stack([torch.bincount(group, minlength=len(bounds)) for _, _, group in draws])
    most = counts.max(dim=0).values  # each group's rows: the most spellings any draw has in it
    spellings = tuple(  # a group no draw has a spelling in is left out: it adds no rows
        torch.stack([_pad_rows(unique[group == g, :bound], int(most[g])) for unique, _, group in draws])
        for g, bound in enumerate(bounds.tolist())
        if most[g] > 0
    )
    offsets = most.cumsum(0) - most
    sizes = [s.y[0].numel() for s in sets]
    per_set: list[list[Tensor]] = [[] for _ in sets]
    for d, (_, inverse, group) in enumerate(draws):
        rank = (F.one_hot(group, len(bounds)).cumsum(0) - 1).gather(1, group.unsqueeze(1)).squeeze(1)
        for i, part in enumerate((offsets[group] + rank)[inverse].split(sizes)):
            per_set[i].append(part.reshape(sets[i].y[d].shape))
    typed = [Labeled(TypedTokens(s.x.word_ids, torch.stack(per_set[i])), s.y) for i, s in enumerate(sets)]
    return SpelledOnce(spellings, typed)


def _pad_rows(rows: Tensor, count: int) -> Tensor:
    return torch.cat([rows, rows.new_zeros(count - len(rows), rows.shape[1])])


def spelled_chars(spelled: SpelledOnce, index: int, width: int) -> Tensor:
    """Set ``index``'s character ids ``[D, S, L, width]`` rebuilt from its spellings (``width``: the encoder's, which
    the widest group need not reach), to check what :func:`spell_once` keeps."""
    rows = torch.cat([F.pad(g, (0, width - g.shape[-1])) for g in spelled.spellings], dim=1)
    typed = spelled.sets[index].x
    return torch.stack([rows[d][typed.spelling_index[d]] for d in range(rows.shape[0])])
