"""What the engine learns from: a task (a support set and a query set) and the loss that scores it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from torch import Tensor

#: ``loss_fn(model_output, targets) -> scalar``
LossFn = Callable[[Any, Any], Tensor]


class Task(NamedTuple):
    """A task is its support set, which the inner loop adapts on, and its query set, which scores the
    adapted weights; each is ``(x, y)``.

    Batched tasks carry a leading task axis on every tensor (that is what ``vmap`` runs over). A plain
    ``((x_support, y_support), (x_query, y_query))`` tuple is accepted everywhere a ``Task`` is: a
    NamedTuple is a tuple, so the engine only ever unpacks it.
    """

    support: Any
    query: Any
