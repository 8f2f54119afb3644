"""The models and task batches the benchmarks time: the speed table (:mod:`xlmeta_lab.experiments.bench.engine`),
its memory rows (:mod:`xlmeta_lab.experiments.bench.memory`) and the engine tests build them the same way, so a
number in one is about the same work as a number in the other. Inputs are random: only their shapes matter.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from xlmeta_lab.data.sine import sine_tasks
from xlmeta_lab.meta import LossFn, Task
from xlmeta_lab.models.tagger import Tagger, TaggerConfig, tagging_loss


def sine_case(generator: torch.Generator) -> tuple[nn.Module, LossFn, list[Task]]:
    """Sine regression (Finn et al., 2017) with their 1-40-40-1 ReLU network, 25 tasks of 10 support + 10 query."""
    model = nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 1))
    tasks = sine_tasks(25, generator=generator, n_support=10, n_query=10, dtype=torch.float32)
    return model, nn.functional.mse_loss, tasks


def tagger_tasks(
    context: str, n_tasks: int = 4
) -> Callable[[torch.Generator], tuple[nn.Module, LossFn, list[Task]]]:
    """Word-level taggers: vocabulary 5000, embeddings 64, ``n_tasks`` tasks of 8 + 8 sentences of 20 tokens."""

    def build(generator: torch.Generator) -> tuple[nn.Module, LossFn, list[Task]]:
        config = TaggerConfig(
            n_tags=17, n_words=5000, word_dim=64, hidden=64, context=context, context_layers=1
        )
        model = Tagger(config)

        def sentences() -> tuple[Tensor, Tensor]:
            return torch.randint(1, 5000, (8, 20), generator=generator), torch.randint(
                0, 17, (8, 20), generator=generator
            )

        return model, tagging_loss, [(sentences(), sentences()) for _ in range(n_tasks)]

    return build
