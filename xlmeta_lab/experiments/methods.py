"""The training methods, in one registry that training, the command line and the notebooks read.

A method is an engine update rule (:data:`xlmeta_lab.meta.ALGORITHMS`: second-order MAML, first-order MAML,
Reptile) plus what its inner loop adapts, or, for the joint baseline, no meta-learning at all. ANIL is
second-order MAML whose inner loop (and test-time fine-tuning) adapts only the tag head; a prototypical network
(Snell et al., 2017) is MAML with no inner step whose every task starts from its support set's class prototypes
(:mod:`xlmeta_lab.meta.prototypes`). Nothing here imports
torch, so the command line can list the methods without loading it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MethodName = Literal["maml", "fomaml", "reptile", "anil", "protonet", "joint"]


@dataclass(frozen=True)
class Method:
    """One way to learn an initialisation from the source languages."""

    name: str
    #: The engine's update rule (``method=`` of :func:`xlmeta_lab.meta.meta_gradient`); ``None`` for joint.
    algorithm: str | None
    #: What the inner loop and test-time fine-tuning adapt: ``None`` for every weight, ``"head"`` for ANIL.
    adapt: str | None
    summary: str
    #: Inner steps the method always takes, whatever the run's ``inner_steps`` (ProtoNet: none); ``None``: the run's.
    inner_steps: int | None = None
    #: The head every task starts from, whatever the run's ``head`` (ProtoNet: the prototypes); ``None``: the run's.
    head: str | None = None

    @property
    def is_meta(self) -> bool:
        return self.algorithm is not None


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("maml", "maml", None, "second-order MAML: differentiates through the inner step"),
        Method("fomaml", "fomaml", None, "first-order MAML: drops the Hessian term of the meta-gradient"),
        Method("reptile", "reptile", None, "Reptile: moves towards each task's adapted weights"),
        Method("anil", "maml", "head", "ANIL: second-order MAML adapting only the tag head"),
        Method(
            "protonet",
            "maml",
            None,
            "prototypical networks: nearest class prototype in a learned embedding, no inner step",
            inner_steps=0,
            head="prototype",
        ),
        Method("joint", None, None, "joint multilingual training, no inner loop: the baseline"),
    )
}
META_METHODS: tuple[str, ...] = tuple(name for name, m in METHODS.items() if m.is_meta)


def get_method(name: str) -> Method:
    """The registered method ``name``; an unknown name is an error that lists the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None
