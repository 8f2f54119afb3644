"""Inner-loop learning rates: one number, or one learned rate per parameter and step.

Meta-SGD (Li et al., 2017) and MAML++ (Antoniou et al., 2019) learn the inner step size alongside
the initialisation. The rate then lives in the meta-parameters and the meta-gradient reaches it
through ``theta_i = theta - alpha[step, name] * g``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn


class LearnedInnerRates(nn.Module):
    """One learnable inner learning rate per adapted parameter tensor and per inner step.

    Arguments:
        names: the adapted parameter names (as in ``model.named_parameters()``).
        inner_steps: how many inner steps each rate vector covers.
        init: the starting rate (the fixed ``inner_lr`` you would otherwise use).

    Example:
        >>> rates = LearnedInnerRates(["head.weight", "head.bias"], inner_steps=3, init=0.1)
        >>> float(rates.rate("head.bias", 2))
        0.1
    """

    def __init__(self, names: Iterable[str], inner_steps: int, init: float) -> None:
        super().__init__()
        names = list(names)
        self.inner_steps = inner_steps
        self.names = {self.key(n): n for n in names}
        self.rates = nn.ParameterDict(
            {k: nn.Parameter(torch.full((inner_steps,), float(init))) for k in self.names}
        )

    @staticmethod
    def key(name: str) -> str:
        """``ParameterDict`` keys cannot contain dots; parameter names do."""
        return name.replace(".", "__")

    def rate(self, name: str, step: int) -> Tensor:
        if step >= self.inner_steps:
            raise ValueError(f"rates were made for {self.inner_steps} inner steps; step {step} asked for")
        return self.rates[self.key(name)][step]

    def covers(self, names: Iterable[str]) -> bool:
        return all(self.key(n) in self.rates for n in names)

    def named_rates(self) -> dict[str, Tensor]:
        """The rate tensors keyed ``inner_lr.<parameter name>``, as ``meta_gradient`` returns their grads."""
        return {f"inner_lr.{self.names[k]}": v for k, v in self.rates.items()}
