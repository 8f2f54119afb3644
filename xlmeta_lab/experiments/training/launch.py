"""Training on several processes: launching them, joining their group, and the decisions only one may take.

``torchrun`` starts one process per GPU (or per CPU share) on each machine and tells each, in environment
variables, its ``RANK`` among all processes, its ``LOCAL_RANK`` on its machine, the ``WORLD_SIZE`` and where
the processes meet; ``xlmeta train --nproc N`` runs the same launcher for one machine
(:func:`launch_local`). :func:`process_group` joins the group with the backend the device needs (NCCL between
GPUs, Gloo between CPU processes) and gives each process its own GPU. Training then shares every meta-batch
among the processes (:mod:`xlmeta_lab.meta.distributed`).

Some things must happen once: claiming the run folder, writing a checkpoint, printing the result. They are rank
0's. When rank 0 refuses (a folder already in use, say), :func:`on_rank_zero` hands the same error to every
process, so all stop at once instead of the others waiting in a collective for a partner that has left.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist

from xlmeta_lab.meta.distributed import rank_and_world


def launched() -> bool:
    """Whether a launcher (``torchrun``, ``--nproc``) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_local_leader() -> bool:
    """Whether this process speaks for its machine: the only process, or local rank 0 of a launched group.

    Every process of a group meets the same expected failures (they read the same data and take the same
    decisions), so one line per machine says it; another machine's console gets its own line.
    """
    return os.environ.get("LOCAL_RANK", "0") == "0"


def local_device(device: torch.device) -> torch.device:
    """This process's own GPU when several processes share a machine (``cuda`` becomes ``cuda:LOCAL_RANK``).

    A device with an index is kept as given; so is every device of a single process. Too many processes for
    the GPUs is refused by every process alike (so the first one of the machine says it, see
    :func:`is_local_leader`), not only by those left without a GPU.
    """
    if device.type != "cuda" or device.index is not None or not launched():
        return device
    here, count = int(os.environ.get("LOCAL_WORLD_SIZE", "1")), torch.cuda.device_count()
    if here > count:
        raise ValueError(
            f"{here} processes on this machine, but it has {count} GPU(s): start at most one process per GPU "
            "(--nproc, or torchrun --nproc-per-node)"
        )
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


@contextmanager
def process_group(device: torch.device) -> Iterator[torch.device]:
    """Join the process group a launcher described in the environment, for the life of the block.

    Yields this process's device (:func:`local_device`). A process that was not launched as one of several,
    or whose group is already initialised, runs as it is.
    """
    device = local_device(device)
    if not launched() or dist.is_initialized():
        yield device
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)  # NCCL and object collectives use the current device
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield device
        dist.barrier()  # a finished process leaves only when all have finished: none is torn down mid-talk
    finally:
        dist.destroy_process_group()


def on_rank_zero(action: Callable[[], None]) -> None:
    """Run ``action`` on rank 0 only; if it raises, raise the same error on every process."""
    rank, world = rank_and_world()
    if world == 1:
        action()
        return
    verdict: list[BaseException | None] = [None]
    if rank == 0:
        try:
            action()
        except Exception as error:  # noqa: BLE001 - handed to every process, then raised everywhere
            verdict[0] = error
    dist.broadcast_object_list(verdict, src=0)
    if verdict[0] is not None:
        raise verdict[0]


def gathered(value: Any) -> list[Any]:
    """``value`` from every process, in rank order (``[value]`` for a single process)."""
    world = rank_and_world()[1]
    if world == 1:
        return [value]
    values: list[Any] = [None] * world
    dist.all_gather_object(values, value)
    return values


def launch_local(
    nproc: int, script: str, args: Sequence[str] = (), *, module: bool = False, quiet: bool = True
) -> int:
    """Start ``nproc`` processes of ``python script args`` (``python -m script args`` with ``module``) on this
    machine, as ``torchrun --standalone --nproc-per-node`` does.

    It is torchrun's own launcher (``torch.distributed.run``), so the processes see the environment they
    would see under torchrun. ``args`` bypass torchrun's option parser, which would take ``--nproc`` for an
    abbreviation of its own ``--nproc-per-node``. Returns the exit status of the process that failed first (0
    when all succeed): its own ``error:`` line has said why, so ``quiet`` keeps the launcher's log of the
    failure off the console.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    launcher = parse_args(["--standalone", f"--nproc-per-node={nproc}", *(["-m"] if module else []), script])
    launcher.training_script_args = list(args)
    logger = logging.getLogger("torch.distributed.elastic")
    level = logger.level
    if quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        run(launcher)
    except ChildFailedError as failed:
        code = failed.get_first_failure()[1].exitcode
        return code if code > 0 else 128 - code  # killed by a signal: the shell's 128 + signal number
    finally:
        logger.setLevel(level)
    return 0
