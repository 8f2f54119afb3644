"""One seeded split of a list into disjoint parts: the only way data is held out anywhere in the package.

Validation sentences of a training language, the French budget holdout and test part of a toy language, the
holdout of a support file: each is a seeded shuffle cut into consecutive parts. The seed is a string that
names the role (``"0:validation:en"``), so two roles never share a shuffle by accident, and the same seed
always gives the same parts, whatever else the program does.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

Item = TypeVar("Item")


def seeded_split(
    items: Sequence[Item], sizes: Sequence[int], seed: int | str, *, keep_order: bool = True
) -> list[list[Item]]:
    """``items`` shuffled by ``random.Random(seed)`` and cut into parts of ``sizes``, then the rest.

    Returns ``len(sizes) + 1`` disjoint lists. ``keep_order=True`` lists each part's items in their original
    order (a treebank split keeps its documents' order); ``False`` keeps the shuffled order, so taking the
    first items of a part is itself a random draw.
    """
    if any(size < 0 for size in sizes) or sum(sizes) > len(items):
        raise ValueError(f"cannot cut parts of sizes {list(sizes)} from {len(items)} items")
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    bounds = [0]
    for size in sizes:
        bounds.append(bounds[-1] + size)
    bounds.append(len(items))
    parts = [order[start:stop] for start, stop in zip(bounds, bounds[1:])]
    return [[items[i] for i in (sorted(part) if keep_order else part)] for part in parts]
