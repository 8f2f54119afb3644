"""Parameters as plain dicts of tensors, the currency of the functional engine.

MAML differentiates *through* an update of the weights, so the weights must be values that flow
through the computation (``theta_i = theta - alpha * g``), not state hidden inside a module. The
engine therefore keeps a model's parameters in a ``dict[str, Tensor]`` and calls the model with
``torch.func.functional_call``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

Params = dict[str, Tensor]
#: Which parameters the inner loop adapts: ``None`` (all), names or name prefixes
#: (``"head"`` matches ``"head.weight"``), or a predicate on the name.
AdaptSpec = None | str | Iterable[str] | Callable[[str], bool]


def trainable_params(model: nn.Module) -> Params:
    """The model's own parameter tensors that require grad, keyed as in ``named_parameters()``."""
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def select_adapted(names: Iterable[str], adapt: AdaptSpec) -> list[str]:
    """Names the inner loop updates; ANIL passes e.g. ``adapt="head"``.

    A string matches a whole name or a dotted prefix of it, so ``"head"`` selects ``head.weight``
    but not ``header.weight``.
    """
    names = list(names)
    if adapt is None:
        return names
    if callable(adapt):
        chosen = [n for n in names if adapt(n)]
    else:
        prefixes = [adapt] if isinstance(adapt, str) else list(adapt)
        chosen = [n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes)]
    if not chosen:
        raise ValueError(f"adapt={adapt!r} selects no parameter; the model has: {', '.join(names)}")
    return chosen


def call_model(model: nn.Module, params: Mapping[str, Tensor], x: Any) -> Any:
    """Run ``model`` with ``params`` in place of its own; ``x`` is a tensor, a tuple or a dict of inputs."""
    if isinstance(x, Mapping):
        return functional_call(model, dict(params), args=(), kwargs=dict(x))
    if isinstance(x, (tuple, list)):
        return functional_call(model, dict(params), tuple(x))
    return functional_call(model, dict(params), (x,))


def stack_trees(items: list[Any]) -> Any:
    """Stack a list of equally shaped tensors / tuples / dicts of tensors along a new leading task axis."""
    first = items[0]
    if isinstance(first, Tensor):
        return torch.stack(items)
    if isinstance(first, Mapping):
        return {k: stack_trees([it[k] for it in items]) for k in first}
    if isinstance(first, (tuple, list)):
        return tuple(stack_trees(list(group)) for group in zip(*items))
    raise TypeError(f"cannot stack task data of type {type(first).__name__}: use tensors, tuples or dicts")


def tree_to(tree: Any, device: torch.device | str) -> Any:
    """Every tensor of ``tree`` (a tensor, or tuples, lists and dicts of them) on ``device``.

    The one way data moves to a device in the package. Named tuples (a ``Task``, a labelled set, a model's
    inputs) keep their type, so fields stay readable by name; a tensor already there is not copied.
    """
    if isinstance(tree, Tensor):
        return tree.to(device)
    if isinstance(tree, Mapping):
        return {k: tree_to(v, device) for k, v in tree.items()}
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(tree_to(t, device) for t in tree))
    if isinstance(tree, (tuple, list)):
        return tuple(tree_to(t, device) for t in tree)
    return tree
