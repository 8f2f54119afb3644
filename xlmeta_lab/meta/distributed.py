"""The meta-gradient over several processes (GPUs, or hosts), with ``torch.distributed``.

The meta-gradient is a mean over the tasks of a meta-batch, ``g = 1/T * sum_i g_i``, and the tasks are
independent until that sum. So each of ``W`` processes can take a share ``S_r`` of the *same* meta-batch,
let the engine compute the mean over its share, ``m_r``, and one all-reduce finishes the formula:

    ``g = 1/T * sum_r |S_r| * m_r``     (sum over processes, then divide by the global task count)

Weighting by ``|S_r|`` keeps it exact when ``T`` is not a multiple of ``W``. Every process then holds the
same ``g``, takes the same outer step from the same weights, and the weights stay equal without ever being
broadcast: nothing but one flat gradient buffer crosses the network per meta-step. Reptile's direction
``1/T * sum_i (theta - theta_i)`` is a mean over tasks too, and reduces the same way.

Without a process group (or with one process) every function here is the single-process engine, unchanged.
The process group itself (``torchrun``, ``init_process_group``) is the caller's: see
:mod:`xlmeta_lab.experiments.training.launch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

from xlmeta_lab.meta.maml import MetaGradient, meta_gradient_and_loss
from xlmeta_lab.meta.task import LossFn, Task

T = TypeVar("T")


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes; ``(0, 1)`` without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def my_share(items: Sequence[T]) -> list[T]:
    """This process's contiguous share of ``items``, which every process must pass in the same order.

    Shares differ in size by at most one (the first ``len % world`` processes take one more) and depend
    only on rank and world size, so a resumed run hands every process the same tasks again.
    """
    rank, world = rank_and_world()
    if len(items) < world:
        raise ValueError(
            f"{len(items)} tasks cannot be shared among {world} processes (each needs at least one); "
            f"raise meta_batch to {world} or more, or use fewer processes"
        )
    start, stop = (rank * len(items)) // world, ((rank + 1) * len(items)) // world
    return list(items[start:stop])


def sum_over_processes(tensors: Sequence[Tensor]) -> list[Tensor]:
    """Each tensor summed over all processes, with one all-reduce of a flat buffer instead of one per tensor.

    One collective per meta-step, not one per weight, because each call pays the network's latency.
    """
    if rank_and_world()[1] == 1:
        return list(tensors)
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    return [part.view_as(t) for part, t in zip(flat.split([t.numel() for t in tensors]), tensors)]


def average_meta_gradient(result: MetaGradient, n_local: int, n_total: int) -> MetaGradient:
    """The meta-gradient over all processes' tasks from this process's mean over its ``n_local`` tasks.

    The query loss is averaged the same way, so every process logs (and checks for NaN) the same number.
    """
    names = sorted(result.grads)  # the same order on every process
    local = [result.grads[n] * n_local for n in names] + [result.query_loss.reshape(1) * n_local]
    summed = [t / n_total for t in sum_over_processes(local)]
    return MetaGradient(dict(zip(names, summed[:-1])), summed[-1].reshape(()), result.batched)


def distributed_meta_gradient(
    model: nn.Module, loss_fn: LossFn, tasks: Sequence[Task], **engine: Any
) -> MetaGradient:
    """:func:`~xlmeta_lab.meta.meta_gradient_and_loss` of all ``tasks``, each process computing only its share.

    Every process passes the same ``tasks`` (e.g. from identically seeded samplers) and the same engine
    settings (``method``, ``inner_lr``, ...); every process gets the whole meta-gradient back.
    """
    mine = my_share(tasks)
    result = meta_gradient_and_loss(model, loss_fn, mine, **engine)
    return average_meta_gradient(result, len(mine), len(tasks))
