"""Proto-MAML's head: every task's classifier starts from its support set's class prototypes.

A head that starts at zero scores every class the same, so before the first inner step no output depends on
the body: the support gradient of the body is zero, one inner step moves only the head, and a first-order
method (FOMAML, Reptile) gets no signal for the body at all. Prototypical networks (Snell et al., 2017) read
classes off the support set instead: ``mu_c`` is the mean embedding of class ``c``'s support examples, and an
example goes to the nearest prototype. Nearest in squared Euclidean distance is a linear layer,

    ``-||f(x) - mu_c||^2 = 2 mu_c . f(x) - ||mu_c||^2 - ||f(x)||^2``,

and the last term is the same for every class, so the head ``W_c = 2 mu_c``, ``b_c = -||mu_c||^2`` makes the
same choices. Proto-MAML (Triantafillou et al., 2020) starts each task's inner loop from that head.

The head is computed *inside* the inner loop, from ``theta``'s body on the task's support set, so it is a
function of ``theta``: the meta-gradient flows through the prototypes (second order or not), and with zero
inner steps the engine trains a prototypical network. ``theta``'s own head weights are never read while this
start replaces them; they get no meta-gradient.

Nothing here knows what the model reads: the embedding is whatever enters the linear layer named ``head``,
caught with a forward pre-hook, so any ``nn.Module`` that ends in one linear layer called once per forward
(a sentence classifier; a tagger too, its words being the examples) can start from prototypes.

References:
    Snell, Swersky, Zemel (2017), Prototypical Networks for Few-shot Learning, arXiv:1703.05175.
    Triantafillou et al. (2020), Meta-Dataset (Proto-MAML), arXiv:1903.03096.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import torch
from torch import Tensor, nn

from xlmeta_lab.meta.params import Params, call_model

#: The heads a task can start from: the model's own (``"zero"`` for a head initialised at zero), or the
#: support set's class prototypes.
HeadStart = Literal["zero", "prototype"]
HEAD_STARTS: tuple[str, ...] = ("zero", "prototype")


class TaskStart(Protocol):
    """Where a task's fast weights start, given ``theta`` and the task's support set ``(x, y)``.

    ``names`` are the weights it sets; ``theta``'s own values of them are never used (so Reptile, which steps
    along ``theta - theta_task``, leaves them alone).
    """

    names: tuple[str, ...]

    def __call__(self, model: nn.Module, params: Params, support: tuple[Any, Tensor]) -> Params: ...


def class_prototypes(features: Tensor, labels: Tensor, n_classes: int) -> Tensor:
    """``mu_c``, the mean of the features of class ``c``'s examples, as ``[n_classes, D]``.

    ``features`` is ``[..., D]`` and ``labels`` the matching ``[...]`` (a sentence per row, or a word per
    position); labels outside ``0..n_classes-1`` (padding's -100) are left out, and a class with no example
    gets a zero prototype. Written with a comparison rather than ``one_hot`` so that it runs under ``vmap``.
    """
    flat = features.reshape(-1, features.shape[-1])
    members = (labels.reshape(-1, 1) == torch.arange(n_classes, device=labels.device)).to(flat.dtype)
    counts = members.sum(0).clamp_min(1.0)
    return (members.T @ flat) / counts.unsqueeze(-1)


def prototype_head(features: Tensor, labels: Tensor, n_classes: int) -> tuple[Tensor, Tensor]:
    """The linear head of the nearest prototype: ``W_c = 2 mu_c``, ``b_c = -||mu_c||^2`` (see the module doc)."""
    mu = class_prototypes(features, labels, n_classes)
    return 2 * mu, -(mu * mu).sum(-1)


@contextmanager
def _inputs_of(layer: nn.Module) -> Iterator[list[Tensor]]:
    """The first input of every call of ``layer`` inside the block (a forward pre-hook, removed after)."""
    seen: list[Tensor] = []
    handle = layer.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    try:
        yield seen
    finally:
        handle.remove()


def head_inputs(model: nn.Module, params: Params, x: Any, head: str = "head") -> Tensor:
    """What the linear layer ``head`` of ``model`` reads when ``model`` runs on ``x`` with ``params``: the
    embedding the prototypes are taken in."""
    with _inputs_of(model.get_submodule(head)) as seen:
        call_model(model, params, x)
    if len(seen) != 1:
        raise ValueError(
            f"a prototype head needs {head!r} called once per forward; it was called {len(seen)} times"
        )
    return seen[0]


@dataclass(frozen=True)
class PrototypeHead:
    """Start every task with the linear layer ``head`` set to the support set's prototype head.

    Frozen and hashable, so the inner loop that holds it stays a valid ``torch.compile`` argument.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential()
        >>> model.add_module("body", nn.Identity())
        >>> model.add_module("head", nn.Linear(2, 2))
        >>> x, y = torch.tensor([[1.0, 0.0], [0.0, 3.0]]), torch.tensor([0, 1])
        >>> start = PrototypeHead()(model, dict(model.named_parameters()), (x, y))
        >>> start["head.weight"].tolist(), start["head.bias"].tolist()
        ([[2.0, 0.0], [0.0, 6.0]], [-1.0, -9.0])
    """

    head: str = "head"

    @property
    def names(self) -> tuple[str, ...]:
        return (f"{self.head}.weight", f"{self.head}.bias")

    def __call__(self, model: nn.Module, params: Params, support: tuple[Any, Tensor]) -> Params:
        x, y = support
        weight_name, bias_name = self.names
        weight = params[weight_name]
        features = head_inputs(model, params, x, self.head)
        proto_weight, proto_bias = prototype_head(features.to(weight.dtype), y, weight.shape[0])
        return {**params, weight_name: proto_weight, bias_name: proto_bias}


def task_start(head: str) -> TaskStart | None:
    """The engine's ``start=`` for a head named in settings: ``"zero"`` (the model's own head) or
    ``"prototype"``."""
    if head not in HEAD_STARTS:
        raise ValueError(f"unknown head {head!r}; choose one of {', '.join(HEAD_STARTS)}")
    return PrototypeHead() if head == "prototype" else None
