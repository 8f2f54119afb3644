"""Training: meta-training (MAML, FOMAML, Reptile, ANIL), the joint multilingual baseline, and few-shot
fine-tuning from any initialisation, with checkpoints that resume to the same bits.

Three verbs, one loop:

* :func:`train` learns an initialisation from a dict ``language -> list[Sentence]`` (toy or UD: the
  same code). ``TrainConfig.method`` picks the algorithm; ``"joint"`` is ordinary mini-batch training
  on the same languages, the baseline every meta-learner has to beat.
* :func:`finetune` adapts one initialisation to one support set (plain SGD, as MAML's inner loop).
* :func:`finetune_batch` adapts it to *many* support sets at once: the K-shot draws of the evaluation
  protocol are independent tasks, so they run as one ``torch.func.vmap`` call where the model allows
  it (a per-draw loop otherwise, with the same numbers).

**How the joint baseline's budget is matched.** The meta-learner and the joint model draw their sentences
from the same sampler (episodes of ``support_size + query_size`` sentences from the training languages).
The budget is counted in *sentence forward/backward passes*: one meta-step costs ``meta_batch *
(inner_steps * support_size + query_size)`` passes for MAML/FOMAML/ANIL (Reptile adapts on support *and*
query: ``meta_batch * inner_steps * (support_size + query_size)``). The joint model takes one Adam step
per meta-batch of sentences (``meta_batch * (support_size + query_size)``) and as many steps as it needs
to spend the same number of passes as MAML with the same config; with ``inner_steps=1`` that is exactly
the same number of steps over exactly as many sentences. Second-order MAML's extra backward through the
inner step is *not* counted: the budget is data, not FLOPs.

**Checkpoints.** Every ``checkpoint_every`` steps the full state (model, optimiser, learned inner rates,
sampler and torch random states, history) is written to a temporary file and moved into place with
``os.replace``, so a crash never leaves half a checkpoint. ``train(..., resume=True)`` continues from it
and ends with the same parameters, bit for bit on a CPU, as a run that was never interrupted (tested).
A non-finite loss stops training with :class:`TrainingDiverged`, which names the step and leaves the last
good checkpoint untouched.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from xlmeta_lab.backbones import (
    Backbone,
    WordTaggerBackbone,
    backbone_for,
    backbone_from_checkpoint,
    vocab_of,
)
from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.episodes import (
    IGNORE_INDEX,
    Labeled,
    SentenceEncoder,
    TaggingEpisodeSampler,
    Task,
    Vocab,
    concat_sets,
    move_set,
    stack_sets,
    take_sentences,
)
from xlmeta_lab.meta import MetaLearner, adapt_trajectory, call_model
from xlmeta_lab.meta.params import AdaptSpec, Params
from xlmeta_lab.models import TaggerConfig, tagging_loss

Method = Literal["maml", "fomaml", "reptile", "anil", "joint"]
METHODS: tuple[str, ...] = ("maml", "fomaml", "reptile", "anil", "joint")
META_METHODS: tuple[str, ...] = ("maml", "fomaml", "reptile", "anil")
CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run; stored in its checkpoint so a resume can refuse a different one.

    Data and episodes: ``support_size``/``query_size`` sentences per task, ``meta_batch`` tasks per step,
    sentences longer than ``max_len`` words skipped, ``val_fraction`` of each training language held out
    for validation. Inner loop: ``inner_lr``, ``inner_steps`` (optionally learned per step and tensor with
    ``learn_inner_lr``). Outer loop: Adam with ``outer_lr`` for ``steps`` meta-steps. Model: the word
    tagger's sizes (its vocabulary sizes come from the data), or, with ``encoder`` set to a Hugging Face
    name or folder, that pretrained encoder with a tag head, its sentences cut to ``max_subtokens`` pieces
    (see :mod:`xlmeta_lab.backbones`). ``seed`` sets the initialisation and the episode
    order; ``data_seed`` the validation split, kept apart so that runs with different seeds share one
    training split and one vocabulary (their conditions differ only in what training did).
    """

    method: Method = "maml"
    steps: int = 200
    meta_batch: int = 4
    support_size: int = 5
    query_size: int = 10
    inner_lr: float = 0.1
    inner_steps: int = 1
    outer_lr: float = 3e-3
    learn_inner_lr: bool = False
    max_len: int = 32
    max_word_len: int = 12
    val_fraction: float = 0.1
    val_tasks: int = 4
    eval_every: int = 50
    checkpoint_every: int = 50
    seed: int = 0
    data_seed: int = 0
    min_word_freq: int = 1
    word_dim: int = 32
    char_dim: int = 16
    char_channels: int = 32
    hidden: int = 64
    context: Literal["conv", "lstm", "none"] = "conv"
    context_layers: int = 2
    encoder: str | None = None
    max_subtokens: int = 128

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        for name in ("steps", "meta_batch", "support_size", "query_size", "inner_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        return cls(**values)


# Settings that change *how often* things happen, not *what* is learned: a resume may change them.
_RESUMABLE_FIELDS = frozenset({"eval_every", "checkpoint_every"})


def sentence_passes_per_step(config: TrainConfig) -> int:
    """Sentence forward/backward passes in one training step of ``config.method`` (see module doc)."""
    per_task = config.support_size + config.query_size
    if config.method == "joint":
        return config.meta_batch * per_task
    if config.method == "reptile":
        return config.meta_batch * config.inner_steps * per_task
    return config.meta_batch * (config.inner_steps * config.support_size + config.query_size)


def total_steps(config: TrainConfig) -> int:
    """Optimiser steps of a run. Joint: enough steps to match MAML's sentence passes with this config."""
    if config.method != "joint":
        return config.steps
    maml = sentence_passes_per_step(TrainConfig(**{**config.to_dict(), "method": "maml"}))
    return math.ceil(config.steps * maml / sentence_passes_per_step(config))


# --------------------------------------------------------------------------------------------------
# Data: held-out validation split, vocabulary, model.
# --------------------------------------------------------------------------------------------------


def split_validation(
    languages: Mapping[str, Sequence[Sentence]], fraction: float, seed: int
) -> tuple[dict[str, list[Sentence]], dict[str, list[Sentence]]]:
    """Per language, a seeded ``fraction`` of sentences held out for validation (never trained on)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {fraction}")
    train_part, val_part = {}, {}
    for lang, sentences in sorted(languages.items()):
        order = list(range(len(sentences)))
        random.Random(f"{seed}:validation:{lang}").shuffle(order)
        n_val = max(1, round(fraction * len(sentences)))
        held = set(order[:n_val])
        train_part[lang] = [s for i, s in enumerate(sentences) if i not in held]
        val_part[lang] = [s for i, s in enumerate(sentences) if i in held]
    return train_part, val_part


# --------------------------------------------------------------------------------------------------
# Checkpoints.
# --------------------------------------------------------------------------------------------------


class CheckpointMismatch(ValueError):
    """A checkpoint was made with a different model or training configuration than the one asked for."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step and the last good checkpoint."""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns: enough to rebuild the model and to continue training."""

    backbone: Backbone
    train_config: TrainConfig
    step: int
    state: dict[str, Any]
    history: list[dict[str, Any]]

    @property
    def method(self) -> str:
        return self.train_config.method

    @property
    def model_config(self) -> TaggerConfig | None:
        """The word tagger's configuration (``None`` for a Hugging Face encoder)."""
        return self.backbone.model_config if isinstance(self.backbone, WordTaggerBackbone) else None

    @property
    def vocab(self) -> Vocab | None:
        """The word tagger's vocabulary (``None`` for a Hugging Face encoder, whose tokenizer it is)."""
        return vocab_of(self.backbone)

    def build_model(self) -> nn.Module:
        """The trained tagger, ready for evaluation or fine-tuning."""
        model = self.backbone.new_model(self.train_config.seed)
        model.load_state_dict(self.state["model"])
        return model


def save_checkpoint(path: str | os.PathLike, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` atomically: to a temporary file in the same folder, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(dict(payload), tmp)
    os.replace(tmp, path)
    return path


def _differences(saved: Mapping[str, Any], wanted: Mapping[str, Any], ignore: frozenset = frozenset()) -> str:
    keys = sorted((set(saved) | set(wanted)) - ignore)
    diffs = [
        f"{k}: checkpoint {saved.get(k)!r} vs asked {wanted.get(k)!r}"
        for k in keys
        if saved.get(k) != wanted.get(k)
    ]
    return "; ".join(diffs)


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model_config: TaggerConfig | Mapping[str, Any] | None = None,
    train_config: TrainConfig | None = None,
) -> Checkpoint:
    """Read a checkpoint; if configs are given, refuse one made with different settings, saying which.

    ``model_config`` is a word tagger's :class:`TaggerConfig` or any backbone's ``describe()``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    raw = torch.load(path, map_location="cpu", weights_only=True)
    if raw.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointMismatch(
            f"{path} has checkpoint format {raw.get('format')!r}, expected {CHECKPOINT_FORMAT}"
        )
    wanted = model_config.to_dict() if isinstance(model_config, TaggerConfig) else model_config
    if wanted is not None and raw["model_config"] != dict(wanted):
        raise CheckpointMismatch(
            f"{path} holds a model with another configuration ({_differences(raw['model_config'], wanted)}); "
            "use a fresh output folder or the settings it was trained with"
        )
    saved_config = TrainConfig.from_dict(raw["train_config"])
    if train_config is not None:  # compared with defaults filled in, so a newer field is not a difference
        diff = _differences(saved_config.to_dict(), train_config.to_dict(), _RESUMABLE_FIELDS)
        if diff:
            raise CheckpointMismatch(
                f"{path} was trained with other settings ({diff}); resume with the same settings or use a fresh "
                "output folder"
            )
    return Checkpoint(
        backbone_from_checkpoint(raw["model_config"], raw["vocab"], saved_config.max_word_len),
        saved_config,
        int(raw["step"]),
        raw["state"],
        list(raw["history"]),
    )


# --------------------------------------------------------------------------------------------------
# The two kinds of training step.
# --------------------------------------------------------------------------------------------------


class _JointStepper:
    """Ordinary multilingual training: one Adam step on all sentences of a meta-batch, no inner loop."""

    def __init__(self, model: nn.Module, config: TrainConfig) -> None:
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.outer_lr)

    def step(self, tasks: Sequence[Task]) -> float:
        batch = concat_sets([s for task in tasks for s in (task.support, task.query)])
        loss = tagging_loss(self.model(*batch.x), batch.y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])


class _MetaStepper:
    """A :class:`MetaLearner` step; ANIL is second-order MAML that adapts only the ``head`` in the inner loop."""

    def __init__(self, model: nn.Module, config: TrainConfig) -> None:
        self.learner = MetaLearner(
            model,
            tagging_loss,
            method="maml" if config.method == "anil" else config.method,
            inner_lr=config.inner_lr,
            inner_steps=config.inner_steps,
            outer_lr=config.outer_lr,
            adapt="head" if config.method == "anil" else None,
            learn_inner_lr=config.learn_inner_lr,
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


def adapt_spec(method: str) -> AdaptSpec:
    """What the inner loop (and test-time fine-tuning) adapts for ``method``: the head for ANIL, else all."""
    return "head" if method == "anil" else None


# --------------------------------------------------------------------------------------------------
# train()
# --------------------------------------------------------------------------------------------------


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

    def __call__(self, model: nn.Module) -> dict[str, float]:
        row: dict[str, float] = {}
        for lang, task in self.tasks.items():
            support, query = task
            adapted = finetune(model, support, lr=self.inner_lr, steps=self.inner_steps, adapt=self.adapt)
            row[f"val_acc.{lang}"] = token_accuracy(model, None, query)
            row[f"val_acc_adapted.{lang}"] = token_accuracy(model, adapted, query)
        for key in ("val_acc", "val_acc_adapted"):
            values = [v for k, v in row.items() if k.startswith(key + ".")]
            row[key] = sum(values) / len(values)
        return row


def _validation(
    val: Mapping[str, list[Sentence]], encoder: SentenceEncoder, config: TrainConfig
) -> _Validation:
    tasks = {}
    for lang, sentences in val.items():
        size = len([s for s in sentences if len(s) <= config.max_len])
        query = min(config.query_size * config.val_tasks, size - config.support_size)
        if query < 1:
            raise ValueError(
                f"the {lang!r} validation split has {size} usable sentences, fewer than support_size + 1; "
                "raise val_fraction or give more sentences"
            )
        sampler = TaggingEpisodeSampler(
            {lang: sentences},
            encoder,
            config.support_size,
            query,
            config.max_len,
            config.max_word_len,
            seed=config.data_seed + 1,
        )
        tasks[lang] = sampler.sample(lang)
    return _Validation(tasks, config.inner_lr, config.inner_steps, adapt_spec(config.method))


def train(
    languages: Mapping[str, Sequence[Sentence]],
    config: TrainConfig,
    out_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> TrainResult:
    """Learn an initialisation on ``languages`` (e.g. ``{"en": [...], "es": [...]}``) with ``config.method``.

    Arguments:
        languages: training sentences per task pool: per language, or finer (e.g. per genre, see
            :func:`xlmeta_lab.udpos.training_tasks`); an episode draws from one pool. The vocabulary is
            built from their training part.
        config: the run's settings (:class:`TrainConfig`).
        out_dir: where ``checkpoint.pt`` goes; ``None`` trains in memory without checkpoints.
        resume: continue from ``out_dir/checkpoint.pt`` if there is one (its settings must match).
        stop_after: stop (with a checkpoint) after this many steps in total, as if killed: for tests and
            for spreading a long run over sessions.
        progress: show a ``tqdm`` progress bar.
        device: where to train; ``"auto"`` picks a GPU if there is one.

    Example:
        >>> from xlmeta_lab.data.toy import make_toy_languages
        >>> langs = make_toy_languages(60, languages=("en", "es"), seed=0)
        >>> result = train(langs, TrainConfig(method="fomaml", steps=2, eval_every=2), progress=False)
        >>> [row["step"] for row in result.history]
        [1, 2]
    """
    from xlmeta_lab.meta import resolve_device

    device = resolve_device(device)
    train_part, val_part = split_validation(languages, config.val_fraction, config.data_seed)
    backbone = backbone_for(config, train_part)
    model = backbone.new_model(config.seed).to(device)
    stepper: _JointStepper | _MetaStepper = (
        _JointStepper(model, config) if config.method == "joint" else _MetaStepper(model, config)
    )
    sampler = TaggingEpisodeSampler(
        train_part,
        backbone.encoder,
        config.support_size,
        config.query_size,
        config.max_len,
        config.max_word_len,
        seed=config.seed,
    )
    validate = _validation(val_part, backbone.encoder, config)
    path = Path(out_dir) / CHECKPOINT_NAME if out_dir is not None else None
    history: list[dict[str, Any]] = []
    start = 0
    if resume and path is not None and path.exists():
        saved = load_checkpoint(path, model_config=backbone.describe(), train_config=config)
        if saved.backbone != backbone:
            raise CheckpointMismatch(f"{path} was trained with another vocabulary (different training data)")
        stepper.load_state_dict(saved.state)
        sampler.rng.setstate(_python_rng_state(saved.state["sampler_rng"]))
        torch.set_rng_state(saved.state["torch_rng"])
        history, start = saved.history, saved.step
    else:  # dropout draws from the global generator: seed it, and save its state in every checkpoint
        torch.manual_seed(config.seed)

    def payload(step: int) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "model_config": backbone.describe(),
            "train_config": config.to_dict(),
            "vocab": backbone.vocab_dict(),
            "method": config.method,
            "step": step,
            "state": {
                **stepper.state_dict(),
                "sampler_rng": _python_rng_list(sampler.rng.getstate()),
                "torch_rng": torch.get_rng_state(),
            },
            "history": history,
        }

    n_steps = total_steps(config)
    end = n_steps if stop_after is None else min(n_steps, stop_after)
    last_saved = start if (path is not None and path.exists()) else None
    bar = tqdm(
        range(start, end), desc=f"train {config.method}", disable=not progress, initial=start, total=n_steps
    )
    for index in bar:
        step = index + 1
        tasks = [_to(sampler.sample(), device) for _ in range(config.meta_batch)]
        loss = stepper.step(tasks)
        if not math.isfinite(loss) or not _finite(model):
            where = (
                f"the last good checkpoint (step {last_saved}) is {path}"
                if last_saved is not None
                else ("no checkpoint was written yet")
            )
            raise TrainingDiverged(
                f"{config.method} diverged at step {step}: the loss is {loss}. The likely cause is a learning "
                f"rate that is too large (outer_lr={config.outer_lr}, inner_lr={config.inner_lr}); lower it and "
                f"start again. {where}."
            )
        row: dict[str, Any] = {"step": step, "loss": loss}
        if step % config.eval_every == 0 or step == n_steps:
            row.update(validate(model))
            bar.set_postfix(loss=f"{loss:.3f}", val_acc=f"{row['val_acc_adapted']:.3f}")
        history.append(row)
        if path is not None and (step % config.checkpoint_every == 0 or step == end):
            save_checkpoint(path, payload(step))
            last_saved = step
    bar.close()
    model.eval()
    return TrainResult(model, backbone, config, history, path, stopped_early=end < n_steps)


def _python_rng_list(state: tuple) -> list:
    """``random.getstate()`` as plain lists, which ``torch.load(weights_only=True)`` accepts."""
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _python_rng_state(saved: Sequence) -> tuple:
    version, internal, gauss = saved
    return (version, tuple(internal), gauss)


def _finite(model: nn.Module) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


def _to(task: Task, device: torch.device) -> Task:
    if device.type == "cpu":
        return task
    return Task(*(move_set(s, device) for s in task))


# --------------------------------------------------------------------------------------------------
# Few-shot fine-tuning and accuracy.
# --------------------------------------------------------------------------------------------------


def finetune(model: nn.Module, support: Labeled, *, lr: float, steps: int, adapt: AdaptSpec = None) -> Params:
    """``steps`` SGD steps with step size ``lr`` on the whole support set, from ``model``'s weights.

    The same update as MAML's inner loop, so a meta-learned initialisation is fine-tuned the way it was
    trained to be. Returns the adapted weights; ``model`` itself is unchanged.
    """
    return {
        n: t[0]
        for n, t in finetune_batch(model, stack_sets([support]), lr=lr, record=(steps,), adapt=adapt)[
            steps
        ].items()
    }


def finetune_batch(
    model: nn.Module,
    supports: Labeled,
    *,
    lr: float,
    record: Sequence[int],
    adapt: AdaptSpec = None,
    batched: bool | Literal["auto"] = "auto",
) -> dict[int, Params]:
    """Fine-tune ``model`` on ``D`` support sets at once; weights after each step count in ``record``.

    ``supports`` holds the sets stacked on a leading axis (e.g. ``word_ids [D, K, L]``). The draws are
    independent tasks, so they go through the engine's :func:`~xlmeta_lab.meta.adapt_trajectory` together
    (one ``vmap`` call where the model allows it). Returns ``{steps: {name: tensor [D, ...]}}``, so one
    trajectory serves every candidate step budget.
    """
    supports = move_set(supports, next(model.parameters()).device)
    draws = [take_sentences(supports, d) for d in range(supports.y.shape[0])]
    return adapt_trajectory(
        model, tagging_loss, draws, inner_lr=lr, record=record, adapt=adapt, batched=batched
    )


@torch.no_grad()
def predict(model: nn.Module, params: Params | None, x: tuple[Tensor, ...], chunk: int = 256) -> Tensor:
    """Tag ids ``[S, L]`` for ``x`` with ``params`` (``None``: the model's own weights), in chunks.

    Inputs go to the weights' device chunk by chunk and the tags come back to the CPU, so an evaluation
    set never has to fit on the GPU at once.
    """
    weights = params if params is not None else dict(model.named_parameters())
    device = next(iter(weights.values())).device
    outs = [
        call_model(model, weights, tuple(t[i : i + chunk].to(device) for t in x)).argmax(-1).cpu()
        for i in range(0, x[0].shape[0], chunk)
    ]
    return torch.cat(outs)


def token_accuracy(model: nn.Module, params: Params | None, data: Labeled) -> float:
    """Share of real words (targets != -100) tagged correctly; padding is never counted."""
    correct, total = correct_counts(model, params, data)
    return correct / total if total else float("nan")


def correct_counts(model: nn.Module, params: Params | None, data: Labeled) -> tuple[int, int]:
    """``(correct, total)`` over the real words of ``data``: the numerator and denominator of accuracy."""
    real = data.y != IGNORE_INDEX
    predicted = predict(model, params, data.x)
    return int((predicted == data.y)[real].sum()), int(real.sum())
