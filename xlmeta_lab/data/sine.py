"""Sine-wave regression tasks (Finn et al., 2017): the smallest family of tasks meta-learning is shown on.

Each task is ``y = a sin(x + phase)`` with amplitude ``a`` in [0.1, 5] and phase in [0, pi], x in [-5, 5].
Notebook 01 checks the meta-gradient on them in float64; ``xlmeta bench`` times the engine on them in
float32. One generator serves both.

Reference:
    Finn, Abbeel, Levine (2017), Model-Agnostic Meta-Learning, arXiv:1703.03400.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from xlmeta_lab.meta import Task


def sine_tasks(
    n_tasks: int,
    *,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    n_support: int = 5,
    n_query: int = 10,
    dtype: torch.dtype = torch.float64,
) -> list[Task]:
    """``n_tasks`` tasks ``((x_s, y_s), (x_q, y_q))`` drawn from ``generator``, or a fresh one seeded by ``seed``."""
    if (seed is None) == (generator is None):
        raise ValueError("give exactly one of seed or generator")
    if generator is None:
        generator = torch.Generator().manual_seed(seed)
    tasks = []
    for _ in range(n_tasks):
        amplitude = 0.1 + 4.9 * torch.rand((), generator=generator, dtype=dtype)
        phase = math.pi * torch.rand((), generator=generator, dtype=dtype)

        def draw(n: int, amplitude: Tensor = amplitude, phase: Tensor = phase) -> tuple[Tensor, Tensor]:
            x = -5 + 10 * torch.rand(n, 1, generator=generator, dtype=dtype)
            return x, amplitude * torch.sin(x + phase)

        tasks.append(Task(draw(n_support), draw(n_query)))
    return tasks
