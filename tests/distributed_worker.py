"""What each of the two processes of ``test_distributed.py`` runs, started by the package's own launcher.

``python distributed_worker.py OUT first`` computes meta-gradients, trains whole runs, stops one run after
``STOP`` steps (as if killed) and claims run folders; ``python distributed_worker.py OUT resume`` continues the
stopped run in fresh processes. Every process writes what it saw under ``OUT``, tagged with its rank; the test
compares that with one process doing the same work. The settings live here so the test reads the same ones.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import torch

from xlmeta_lab.data.toy import make_toy_languages
from xlmeta_lab.episodes.samplers import TaggingEpisodeSampler
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.experiments.config import TrainConfig
from xlmeta_lab.experiments.training.checkpoints import load_checkpoint
from xlmeta_lab.experiments.training.launch import process_group
from xlmeta_lab.experiments.training.loop import train
from xlmeta_lab.experiments.training.run_folder import LOCK_NAME, claimed_run_folder
from xlmeta_lab.meta import Task, distributed_meta_gradient
from xlmeta_lab.meta.distributed import rank_and_world
from xlmeta_lab.models.backbones import new_tagger, tagger_config

#: Three tasks per meta-batch over two processes: shares of two and one, so the weighting is exercised.
CONFIG = TrainConfig(
    steps=5,
    meta_batch=3,
    support_size=3,
    query_size=4,
    max_len=14,
    max_word_len=8,
    eval_every=5,
    checkpoint_every=1,
    word_dim=16,
    char_dim=8,
    char_channels=16,
    hidden=24,
)
STOP = 2
TRAINED = ("maml", "reptile", "joint")
GRADIENTS = ("maml", "fomaml", "reptile")
#: Five tasks over two processes (three and two): the engine's settings for the meta-gradient check.
N_TASKS = 5
ENGINE = {"inner_lr": 0.3, "inner_steps": 2}


def languages() -> dict:
    toy = make_toy_languages(80, seed=0, relatedness=0.8)
    return {"en": toy["en"], "es": toy["es"]}


def tagger_and_tasks() -> tuple[torch.nn.Module, list[Task]]:
    """A small tagger and ``N_TASKS`` tasks, the same in every process that asks."""
    langs = languages()
    vocab = Vocab.build(langs["en"] + langs["es"])
    sampler = TaggingEpisodeSampler(langs, vocab, 3, 4, max_len=14, max_word_len=8, seed=3)
    return new_tagger(tagger_config(CONFIG, vocab), seed=0), [sampler.sample() for _ in range(N_TASKS)]


def first(out: Path, rank: int) -> None:
    from xlmeta_lab.models.tagger import tagging_loss

    model, tasks = tagger_and_tasks()
    for method in GRADIENTS:
        result = distributed_meta_gradient(model, tagging_loss, tasks, method=method, **ENGINE)
        torch.save({"grads": result.grads, "loss": result.query_loss}, out / f"grads-{method}-{rank}.pt")
    for method in TRAINED:
        trained = train(languages(), replace(CONFIG, method=method), out / method, progress=False)
        torch.save(trained.model.state_dict(), out / f"weights-{method}-{rank}.pt")
    train(languages(), replace(CONFIG, method="maml"), out / "stopped", stop_after=STOP, progress=False)

    claimed = out / "claimed"
    with claimed_run_folder(claimed, resume=False):
        (out / f"lock-{rank}.txt").write_text(f"{(claimed / LOCK_NAME).read_text()} {os.getpid()}")
        torch.distributed.barrier()  # rank 0 releases the lock on leaving; rank 1 must have read it first
    notes = []
    try:
        with claimed_run_folder(out / "empty", resume=True):
            notes.append("resume of an empty folder accepted")
    except ValueError as error:
        notes.append(str(error))
    try:
        train(languages(), replace(CONFIG, meta_batch=1), progress=False)
        notes.append("one task for two processes accepted")
    except ValueError as error:
        notes.append(str(error))
    (out / f"refusals-{rank}.txt").write_text("\n".join(notes))


def resume(out: Path, rank: int) -> None:
    (out / f"stopped-at-{rank}.txt").write_text(str(load_checkpoint(out / "stopped").step))
    resumed = train(languages(), replace(CONFIG, method="maml"), out / "stopped", resume=True, progress=False)
    torch.save(resumed.model.state_dict(), out / f"weights-resumed-{rank}.pt")


if __name__ == "__main__":
    folder, phase = Path(sys.argv[1]), sys.argv[2]
    with process_group(torch.device("cpu")):
        rank, world = rank_and_world()
        assert world == 2, f"expected two processes, got {world}"
        {"first": first, "resume": resume}[phase](folder, rank)
