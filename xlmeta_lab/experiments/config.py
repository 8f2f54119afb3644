"""Every setting of an experiment, in two frozen objects, and the only road from a notebook profile to them.

:class:`TrainConfig` is what a training run is (stored in its checkpoint, so a resume can refuse another);
:class:`ProtocolConfig` is how the few-shot protocol evaluates. :func:`train_config_from_settings` and
:func:`protocol_from_settings` build them from a profile (:mod:`xlmeta_lab.teaching.profiles`) and refuse a
profile key that names nothing, so a misspelt setting fails loudly instead of silently keeping a default.

**How the joint baseline's budget is matched.** The meta-learner and the joint model draw their sentences
from the same sampler (episodes of ``support_size + query_size`` sentences from the training languages).
The budget is counted in *sentence forward/backward passes*: one meta-step costs ``meta_batch *
(inner_steps * support_size + query_size)`` passes for MAML/FOMAML/ANIL (Reptile adapts on support *and*
query: ``meta_batch * inner_steps * (support_size + query_size)``). The joint model takes one Adam step
per meta-batch of sentences (``meta_batch * (support_size + query_size)``) and as many steps as it needs
to spend the same number of passes as MAML with the same config; with ``inner_steps=1`` that is exactly
the same number of steps over exactly as many sentences. Second-order MAML's extra backward through the
inner step is *not* counted: the budget is data, not FLOPs. For topic classification (``task="topic"``) an
episode is ``n_way`` topics of ``support_size`` + ``query_size`` sentences each, so every count above is
``n_way`` times larger, for every method alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from difflib import get_close_matches
from typing import Any, Literal

from xlmeta_lab.experiments.methods import MethodName, get_method


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run; stored in its checkpoint so a resume can refuse a different one.

    Data and episodes: ``support_size``/``query_size`` sentences per task, ``meta_batch`` tasks per step,
    sentences longer than ``max_len`` words skipped, ``val_fraction`` of each training language held out
    for validation. Inner loop: ``inner_lr``, ``inner_steps`` (optionally learned per step and tensor with
    ``learn_inner_lr``). Outer loop: Adam with ``outer_lr`` for ``steps`` meta-steps. Model: the word
    tagger's sizes (its vocabulary sizes come from the data), or, with ``encoder`` set to a Hugging Face
    name or folder, that pretrained encoder with a tag head, its sentences cut to ``max_subtokens`` pieces
    (see :mod:`xlmeta_lab.models.backbones`). ``seed`` sets the initialisation and the episode
    order; ``data_seed`` the validation split, kept apart so that runs with different seeds share one
    training split and one vocabulary (their conditions differ only in what training did).

    ``task`` is ``"tagging"`` (UD, toy) or ``"topic"`` (SIB-200 sentence classification). For topics an episode is
    ``n_way``-way: ``support_size`` and ``query_size`` count sentences *per topic* (K-shot), sentences longer than
    ``max_len`` words are cut (not skipped), and the meta-learners' episodes have their labels permuted unless
    ``permute_labels`` is False (:mod:`xlmeta_lab.episodes.topics` says why it matters); the joint baseline
    always sees the fixed labels. ``head`` is where each meta-learning task's classifier starts: the model's own
    head (``"zero"``, as initialised) or the support set's class prototypes (``"prototype"``, Proto-MAML), in
    the inner loop, validation and test-time fine-tuning alike (:mod:`xlmeta_lab.meta.prototypes`). ``bf16`` runs the
    forward passes of training (inner and outer) under ``torch.autocast`` in bfloat16: about half the
    activation memory and faster matrix products on GPUs that have it, gradients a little less exact; the
    weights and the optimiser stay in float32.
    """

    method: MethodName = "maml"
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
    task: Literal["tagging", "topic"] = "tagging"
    n_way: int = 7
    permute_labels: bool = True
    head: Literal["zero", "prototype"] = "zero"
    bf16: bool = False

    def __post_init__(self) -> None:
        get_method(self.method)  # an unknown method is an error naming the known ones
        if self.task not in ("tagging", "topic"):
            raise ValueError(f"task must be 'tagging' or 'topic', got {self.task!r}")
        if self.head not in ("zero", "prototype"):
            raise ValueError(f"head must be 'zero' or 'prototype', got {self.head!r}")
        for name in ("inner_lr", "outer_lr"):
            require_positive_finite(name, getattr(self, name))
        for name in ("steps", "meta_batch", "support_size", "query_size", "inner_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def task_head(self) -> str:
        """The head each task starts from for this run's method (the method's own, else ``head``)."""
        return get_method(self.method).head or self.head

    @property
    def method_inner_steps(self) -> int:
        """Inner steps this run's method takes (the method's own, else ``inner_steps``)."""
        steps = get_method(self.method).inner_steps
        return self.inner_steps if steps is None else steps

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
RESUMABLE_FIELDS = frozenset({"eval_every", "checkpoint_every"})


def sentence_passes_per_step(config: TrainConfig) -> int:
    """Sentence forward/backward passes in one training step of ``config.method`` (see module doc)."""
    per_task = config.support_size + config.query_size
    classes = config.n_way if config.task == "topic" else 1
    if config.method == "joint":
        return classes * config.meta_batch * per_task
    if config.method == "reptile":
        return classes * config.meta_batch * config.inner_steps * per_task
    return classes * config.meta_batch * (config.inner_steps * config.support_size + config.query_size)


def total_steps(config: TrainConfig) -> int:
    """Optimiser steps of a run. Joint: enough steps to match MAML's sentence passes with this config."""
    if config.method != "joint":
        return config.steps
    maml = sentence_passes_per_step(TrainConfig(**{**config.to_dict(), "method": "maml"}))
    return math.ceil(config.steps * maml / sentence_passes_per_step(config))


@dataclass(frozen=True)
class ProtocolConfig:
    """K values, draws, and the fine-tuning grid the budget is chosen from (on the holdout).

    ``k_per_class``: a support set is K sentences of *each* class (topic classification) rather than K sentences.

    Choosing the budget fine-tunes every grid point, so on real data it may use a subset: ``budget_ks``
    (default: every K > 0), ``budget_draws`` draws (default ``n_draws``) and the first ``budget_models``
    seeds' models (default: all). Its draws come from their own seed, apart from the evaluation draws.
    """

    ks: tuple[int, ...] = (0, 1, 5, 10, 20)
    n_draws: int = 5
    lrs: tuple[float, ...] = (0.03, 0.1, 0.3)
    steps: tuple[int, ...] = (5, 10, 25, 50)
    draw_seed: int = 0
    #: K counts support sentences per class (N-way K-shot, for classification) instead of sentences in all.
    k_per_class: bool = False
    baseline: str | None = "joint"
    max_word_len: int = 12
    budget_ks: tuple[int, ...] = ()
    budget_draws: int = 0
    budget_models: int = 0

    def __post_init__(self) -> None:
        for lr in self.lrs:
            require_positive_finite("a fine-tuning learning rate", lr)
        if not self.lrs or not self.steps or min(self.steps) < 0:
            raise ValueError(
                f"the fine-tuning grid needs lrs and steps >= 0 (0: no fine-tuning), got lrs={self.lrs} "
                f"steps={self.steps}"
            )
        if self.n_draws < 1 or any(k < 0 for k in self.ks):
            raise ValueError(
                f"n_draws must be >= 1 and every K >= 0, got n_draws={self.n_draws} ks={self.ks}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FewShotConfig:
    """K-shot adaptation from a support file, as ``xlmeta fewshot`` and ``xlmeta adapt`` do it: ``shots`` (K)
    sentences per support set, ``draws`` support sets (the fine-tuning budget is chosen over them), the share
    ``holdout_fraction`` of the file set aside to choose the budget from the grid ``lrs`` x ``steps``, and the
    ``seed`` of the holdout split and the draws. One object for both commands, so the same settings always
    choose the same budget."""

    shots: int
    draws: int = 5
    holdout_fraction: float = 0.2
    lrs: tuple[float, ...] = (0.03, 0.1, 0.3)
    steps: tuple[int, ...] = (10, 25, 50)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.shots < 1 or self.draws < 1:
            raise ValueError(f"--shots and --draws must be >= 1, got shots={self.shots}, draws={self.draws}")
        if not 0 < self.holdout_fraction < 1:
            raise ValueError(f"--holdout must be between 0 and 1, got {self.holdout_fraction}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def require_positive_finite(name: str, value: float) -> None:
    """Refuse a learning rate that is not a finite number above zero (nan, inf, 0, negative): it would train
    nothing, or diverge, and still print numbers that look like results."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


# --------------------------------------------------------------------------------------------------
# From a notebook profile to the two configs, refusing any setting that names nothing.
# --------------------------------------------------------------------------------------------------

#: Profile keys the protocol reads (``finetune_lrs``/``finetune_steps`` are the budget grid).
PROTOCOL_KEYS = frozenset(
    {"ks", "n_draws", "finetune_lrs", "finetune_steps", "budget_ks", "budget_draws", "budget_models"}
)
#: Profile keys every experiment's wiring reads: which methods to train, and for how many seeds.
RUN_KEYS = frozenset({"methods", "n_seeds"})


def check_profile_keys(settings: Mapping[str, Any], experiment_keys: Iterable[str] = ()) -> None:
    """Refuse a profile key that is neither a :class:`TrainConfig` field, a protocol or run key, nor one of
    ``experiment_keys`` (those the experiment's wiring reads itself), naming the closest known key."""
    known = {f.name for f in fields(TrainConfig)} | PROTOCOL_KEYS | RUN_KEYS | set(experiment_keys)
    unknown = sorted(set(settings) - known)
    if unknown:
        hints = [
            f"{key!r}"
            + (f" (did you mean {close[0]!r}?)" if (close := get_close_matches(key, known, 1)) else "")
            for key in unknown
        ]
        raise ValueError(f"unknown profile setting(s) {', '.join(hints)}; known: {', '.join(sorted(known))}")


def train_config_from_settings(
    settings: Mapping[str, Any], seed: int, *, experiment_keys: Iterable[str] = (), **fixed: Any
) -> TrainConfig:
    """A :class:`TrainConfig` from a notebook profile: every profile key that names a field, then ``fixed``.

    Every other key must be a protocol key or one of ``experiment_keys`` (see :func:`check_profile_keys`).
    Checkpoints follow validation (``checkpoint_every = eval_every``); ``seed`` seeds both the run and the
    validation split (``data_seed``), so a profile and a seed name one experiment.
    """
    check_profile_keys(settings, experiment_keys)
    names = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in settings.items() if k in names}
    values.update(checkpoint_every=settings["eval_every"], seed=seed, data_seed=seed, **fixed)
    return TrainConfig(**values)


def protocol_from_settings(settings: Mapping[str, Any], seed: int, **fixed: Any) -> ProtocolConfig:
    """A :class:`ProtocolConfig` from a notebook profile (``finetune_lrs``/``finetune_steps`` are the grid)."""
    values: dict[str, Any] = {
        "ks": tuple(settings["ks"]),
        "n_draws": settings["n_draws"],
        "lrs": tuple(settings["finetune_lrs"]),
        "steps": tuple(settings["finetune_steps"]),
        "budget_ks": tuple(settings.get("budget_ks", ())),
        "budget_draws": settings.get("budget_draws", 0),
        "budget_models": settings.get("budget_models", 0),
        "draw_seed": seed,
    }
    return ProtocolConfig(**{**values, **fixed})
