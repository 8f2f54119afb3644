"""Training: meta-training (MAML, FOMAML, Reptile, ANIL) and the joint multilingual baseline, resumable.

:func:`train` learns an initialisation from a dict ``task pool -> list[Sentence]`` (toy or UD: the same
code) or ``-> list[Example]`` (SIB-200 topics, ``TrainConfig.task="topic"``; the episodes differ, see
:mod:`xlmeta_lab.experiments.training.episodes`, the loop does not). ``TrainConfig.method`` picks the method (:data:`xlmeta_lab.experiments.methods.METHODS`); ``"joint"``
is ordinary mini-batch training on the same languages, the baseline every meta-learner has to beat, with a
matched budget (:mod:`xlmeta_lab.experiments.config` says how). ``train(..., resume=True)`` continues from
the checkpoint and ends with the same parameters, bit for bit on a CPU, as a run that was never interrupted
(tested). A non-finite loss stops training with :class:`TrainingDiverged`, which names the step and leaves
the last good checkpoint untouched.

Under ``torch.distributed`` (``torchrun``, or ``xlmeta train --nproc``; see :mod:`xlmeta_lab.experiments.training.launch`)
every process draws the same meta-batch from an identically seeded sampler and takes its share of the tasks:
meta-learners all-reduce their meta-gradients (:mod:`xlmeta_lab.meta.distributed`), the joint baseline is
wrapped in ``DistributedDataParallel``. Every process takes the same outer step, so the weights stay equal, and
equal to one process's to rounding (tested); rank 0 alone writes checkpoints.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from xlmeta_lab.data.splits import seeded_split
from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.episodes.encoders import SentenceEncoder
from xlmeta_lab.episodes.tensors import concat_sets, padding_mask
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.experiments.adaptation.finetune import finetune
from xlmeta_lab.experiments.adaptation.scoring import token_accuracy
from xlmeta_lab.experiments.config import TrainConfig, total_steps
from xlmeta_lab.experiments.methods import METHODS
from xlmeta_lab.experiments.progress import progress_bar
from xlmeta_lab.experiments.training.checkpoints import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    CheckpointMismatch,
    load_checkpoint,
    python_rng_list,
    python_rng_state,
    save_checkpoint,
)
from xlmeta_lab.experiments.training.episodes import episode_sampler, validation_tasks
from xlmeta_lab.experiments.training.launch import gathered, local_device
from xlmeta_lab.meta import MetaLearner, Task, resolve_device
from xlmeta_lab.meta.distributed import my_share, rank_and_world, sum_over_processes
from xlmeta_lab.meta.params import AdaptSpec, tree_to
from xlmeta_lab.meta.prototypes import task_start
from xlmeta_lab.models.backbones import Backbone, vocab_of
from xlmeta_lab.models.registry import backbone_for
from xlmeta_lab.models.tagger import tagging_loss

#: Training stops when the loss exceeds this many times its first value (floored at 0.1): a run whose loss
#: "finishes" at 8e9 has diverged as surely as one that reached NaN.
EXPLOSION_FACTOR = 100


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite, or exploded; the message names the step and the last good checkpoint."""


def split_validation(
    languages: Mapping[str, Sequence[Sentence]], fraction: float, seed: int
) -> tuple[dict[str, list[Sentence]], dict[str, list[Sentence]]]:
    """Per language, a seeded ``fraction`` of sentences held out for validation (never trained on)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {fraction}")
    train_part, val_part = {}, {}
    for lang, sentences in sorted(languages.items()):
        n_val = max(1, round(fraction * len(sentences)))
        val_part[lang], train_part[lang] = seeded_split(sentences, [n_val], f"{seed}:validation:{lang}")
    return train_part, val_part


class _JointStepper:
    """Ordinary multilingual training: one Adam step on all sentences of a meta-batch, no inner loop.

    Under several processes each takes its share of the meta-batch through ``DistributedDataParallel``, which
    averages the processes' gradients. One process's loss is a mean over all real words, and shares hold
    different numbers of words, so each process divides its *summed* loss by the words of all shares and
    multiplies by the process count (which DDP's average undoes): the one-process gradient, to rounding.
    """

    def __init__(self, model: nn.Module, config: TrainConfig) -> None:
        self.model = model
        self.world = rank_and_world()[1]
        # static_graph: every step runs the same graph, so DDP learns once which weights get no gradient (an
        # encoder's pooler), instead of waiting for them forever or searching the graph at every step.
        self.forward = DistributedDataParallel(model, static_graph=True) if self.world > 1 else model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.outer_lr)

    def step(self, tasks: Sequence[Task]) -> float:
        batch = concat_sets([s for task in my_share(tasks) for s in (task.support, task.query)])
        summed = tagging_loss(self.forward(*batch.x), batch.y, reduction="sum")
        words = padding_mask(batch.y).sum().to(summed.dtype).reshape(1)
        all_words, all_summed = sum_over_processes([words, summed.detach().reshape(1)])
        self.optimizer.zero_grad(set_to_none=True)
        (summed / all_words * self.world).backward()
        self.optimizer.step()
        return (all_summed / all_words).item()

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])


class _MetaStepper:
    """A :class:`MetaLearner` step with the method's engine update rule and adapted weights (the registry's)."""

    def __init__(self, model: nn.Module, config: TrainConfig) -> None:
        self.learner = MetaLearner(
            model,
            tagging_loss,
            method=METHODS[config.method].algorithm,
            inner_lr=config.inner_lr,
            inner_steps=config.method_inner_steps,
            outer_lr=config.outer_lr,
            adapt=METHODS[config.method].adapt,
            learn_inner_lr=config.learn_inner_lr,
            distributed=rank_and_world()[1] > 1,
            start=task_start(config.task_head),
        )

    def step(self, tasks: Sequence[Task]) -> float:
        return self.learner.step(tasks).query_loss.item()

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.learner.model.state_dict(),
            "inner_rates": self.learner.inner_rates.state_dict()
            if self.learner.inner_rates is not None
            else None,
            "optimizer": self.learner.optimizer.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.learner.model.load_state_dict(state["model"])
        if self.learner.inner_rates is not None:
            self.learner.inner_rates.load_state_dict(state["inner_rates"])
        self.learner.optimizer.load_state_dict(state["optimizer"])


def stepper_for(model: nn.Module, config: TrainConfig) -> _JointStepper | _MetaStepper:
    """What takes one training step of ``config.method`` on ``model``: ``step(tasks)`` returns the loss."""
    return _MetaStepper(model, config) if METHODS[config.method].is_meta else _JointStepper(model, config)


def step_probe(
    languages: Mapping[str, Sequence[Sentence]], config: TrainConfig, device: str | torch.device = "cpu"
) -> Callable[[], float]:
    """One training step of ``config`` on its own episodes, as :func:`train` takes it, as a call that can be timed
    or metered (each call samples a fresh meta-batch and updates the model: a probe, not a training run)."""
    device = local_device(resolve_device(device))
    train_part, _ = split_validation(languages, config.val_fraction, config.data_seed)
    backbone = backbone_for(config, train_part)
    model = backbone.new_model(config.seed).to(device)
    stepper = stepper_for(model, config)
    sampler = episode_sampler(train_part, backbone.encoder, config, seed=config.seed)
    torch.manual_seed(_dropout_seed(config.seed, 0))  # as train() seeds its first process
    return lambda: stepper.step([tree_to(sampler.sample(), device) for _ in range(config.meta_batch)])


@dataclass
class TrainResult:
    """A trained initialisation with what produced it. ``history`` has one row per step (``loss``) and,
    every ``eval_every`` steps, the validation metrics (``val_acc``: no adaptation; ``val_acc_adapted``:
    after the inner loop on a support set of the held-out data)."""

    model: nn.Module
    backbone: Backbone
    config: TrainConfig
    history: list[dict[str, Any]]
    checkpoint: Path | None = None
    stopped_early: bool = False

    @property
    def vocab(self) -> Vocab | None:
        """The word tagger's vocabulary (``None`` for a Hugging Face encoder)."""
        return vocab_of(self.backbone)

    @property
    def validation(self) -> list[dict[str, Any]]:
        return [row for row in self.history if "val_acc" in row]


@dataclass
class _Validation:
    """Fixed validation episodes per training language, drawn once from the held-out split."""

    tasks: dict[str, Task]
    inner_lr: float
    inner_steps: int
    adapt: AdaptSpec
    head: str = "zero"

    def __call__(self, model: nn.Module) -> dict[str, float]:
        row: dict[str, float] = {}
        for lang, task in self.tasks.items():
            support, query = task
            adapted = finetune(
                model, support, lr=self.inner_lr, steps=self.inner_steps, adapt=self.adapt, head=self.head
            )
            row[f"val_acc.{lang}"] = token_accuracy(model, None, query)
            row[f"val_acc_adapted.{lang}"] = token_accuracy(model, adapted, query)
        for key in ("val_acc", "val_acc_adapted"):
            values = [v for k, v in row.items() if k.startswith(key + ".")]
            row[key] = sum(values) / len(values)
        return row


def _validation(val: Mapping[str, list[Any]], encoder: SentenceEncoder, config: TrainConfig) -> _Validation:
    tasks = validation_tasks(val, encoder, config)
    method = METHODS[config.method]
    head = config.task_head if method.is_meta else "zero"
    return _Validation(tasks, config.inner_lr, config.method_inner_steps, method.adapt, head)


def train(
    languages: Mapping[str, Sequence[Sentence]],
    config: TrainConfig,
    out_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
    origin: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Learn an initialisation on ``languages`` (e.g. ``{"en": [...], "es": [...]}``) with ``config.method``.

    Arguments:
        languages: training sentences per task pool: per language, or finer (e.g. per genre, see
            :func:`xlmeta_lab.data.roles.training_tasks`); an episode draws from one pool. The vocabulary is
            built from their training part.
        config: the run's settings (:class:`TrainConfig`).
        out_dir: where ``checkpoint.pt`` goes; ``None`` trains in memory without checkpoints.
        resume: continue from ``out_dir/checkpoint.pt`` if there is one (its settings must match).
        stop_after: stop (with a checkpoint) after this many steps in total, as if killed: for tests and
            for spreading a long run over sessions.
        progress: show a ``tqdm`` progress bar (rank 0's, under several processes).
        device: where to train; ``"auto"`` picks a GPU if there is one (under several processes on one
            machine, ``cuda`` means each process's own GPU).
        origin: what the run was asked for beyond ``config`` (the command line's ``task`` and ``profile``):
            stored in the checkpoint, so a resume asking for another is refused in those words.

    Under ``torch.distributed`` every process calls this with the same arguments (see the module doc); a
    meta-batch needs at least one task per process.

    Example:
        >>> from xlmeta_lab.data.toy import make_toy_languages
        >>> langs = make_toy_languages(60, languages=("en", "es"), seed=0)
        >>> result = train(langs, TrainConfig(method="fomaml", steps=2, eval_every=2), progress=False)
        >>> [row["step"] for row in result.history]
        [1, 2]
    """

    device = local_device(resolve_device(device))
    if config.bf16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"bf16: {torch.cuda.get_device_name(device)} has no bfloat16; train without it")
    rank, world = rank_and_world()
    train_part, val_part = split_validation(languages, config.val_fraction, config.data_seed)
    backbone = backbone_for(config, train_part)
    model = backbone.new_model(config.seed).to(device)
    stepper = stepper_for(model, config)
    sampler = episode_sampler(train_part, backbone.encoder, config, seed=config.seed)
    validate = _validation(val_part, backbone.encoder, config)
    path = Path(out_dir) / CHECKPOINT_NAME if out_dir is not None else None
    history: list[dict[str, Any]] = []
    start = 0
    if resume and path is not None and path.exists():
        saved = load_checkpoint(path, model_config=backbone.describe(), train_config=config, origin=origin)
        if saved.backbone != backbone:
            raise CheckpointMismatch(
                f"the checkpoint in {path.parent} was trained with another vocabulary, built from other training "
                "data (another --data-dir, or files changed since); resume on the same data, or train into another --out"
            )
        stepper.load_state_dict(saved.state)
        sampler.rng.setstate(python_rng_state(saved.state["sampler_rng"]))
        by_rank = saved.state.get("torch_rng_by_rank", [saved.state["torch_rng"]])
        if rank < len(by_rank):
            torch.set_rng_state(by_rank[rank])
        else:  # a process the interrupted run did not have
            torch.manual_seed(_dropout_seed(config.seed, rank) + saved.step)
        history, start = saved.history, saved.step
    else:  # dropout draws from the global generator: seed it, and save its state in every checkpoint
        torch.manual_seed(_dropout_seed(config.seed, rank))

    def payload(step: int) -> dict[str, Any]:
        """The checkpoint; every process takes part, because it gathers their random states."""
        torch_rng = gathered(torch.get_rng_state())
        return {
            "format": CHECKPOINT_FORMAT,
            "origin": dict(origin or {}),
            "model_config": backbone.describe(),
            "train_config": config.to_dict(),
            "vocab": backbone.vocab_dict(),
            "method": config.method,
            "step": step,
            "state": {
                **stepper.state_dict(),
                "sampler_rng": python_rng_list(sampler.rng.getstate()),
                "torch_rng": torch_rng[0],
                **({"torch_rng_by_rank": torch_rng} if world > 1 else {}),
            },
            "history": history,
        }

    n_steps = total_steps(config)
    end = n_steps if stop_after is None else min(n_steps, stop_after)
    last_saved = start if (path is not None and path.exists()) else None
    bar = progress_bar(
        range(start, end),
        desc=f"train {config.method}",
        disable=not progress or rank > 0,
        initial=start,
        total=n_steps,
    )
    for index in bar:
        step = index + 1
        tasks = [tree_to(sampler.sample(), device) for _ in range(config.meta_batch)]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
            loss = stepper.step(tasks)
        first_loss = history[0]["loss"] if history else loss
        exploded = loss > EXPLOSION_FACTOR * max(first_loss, 0.1)
        if not math.isfinite(loss) or not _finite(model) or exploded:
            where = (
                f"the last good checkpoint (step {last_saved}) is {path}"
                if last_saved is not None
                else ("no checkpoint was written yet")
            )
            raise TrainingDiverged(
                f"{config.method} diverged at step {step}: the loss is {loss}"
                + (f", over {EXPLOSION_FACTOR}x its start ({first_loss:.3g})" if exploded else "")
                + ". The likely cause is a learning "
                f"rate that is too large (outer_lr={config.outer_lr}, inner_lr={config.inner_lr}); lower it and "
                f"start again. {where}."
            )
        row: dict[str, Any] = {"step": step, "loss": loss}
        if step % config.eval_every == 0 or step == n_steps:
            row.update(validate(model))
            bar.set_postfix(loss=f"{loss:.3f}", val_acc=f"{row['val_acc_adapted']:.3f}")
        history.append(row)
        if path is not None and (step % config.checkpoint_every == 0 or step == end):
            saved_state = payload(step)
            if rank == 0:
                save_checkpoint(path, saved_state)
            last_saved = step
    bar.close()
    model.eval()
    return TrainResult(model, backbone, config, history, path, stopped_early=end < n_steps)


def _dropout_seed(seed: int, rank: int) -> int:
    """Each process's seed for the global generator (dropout): its own stream, and ``seed`` for rank 0."""
    return seed + 7919 * rank


def _finite(model: nn.Module) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())
