"""Inner loops matched to the test-time budget: does meta-training for the steps a learner will take widen the regime?

Notebook 03's curve finds a meta-learned start ahead of joint training after a few fine-tuning steps and not after
many, and every meta-learner there was trained with *one* inner step. MAML's objective scores the weights after its
inner loop, so a start trained through 5 inner steps is optimised for a 5-step adaptation, and one trained with
learned per-step rates (Meta-SGD, :class:`~xlmeta_lab.meta.LearnedInnerRates`) chooses its own step sizes. Here
each :class:`Variant` (method x inner steps x learned rates) is trained on the same data and seeds, and scored by
the budget curve at a few test budgets (say 1, 5 and 25 steps), a rate chosen on the French holdout for every
budget and variant, paired with joint at the same budget. Variants with the profile's own inner loop load the
curve's checkpoints; the others train into their own folders beside them, resumable.

At test time every variant adapts with one rate per budget chosen on the holdout, Meta-SGD's included: its learned
rates cover only the steps it was trained for, so scoring them at 25 steps would need a rule the holdout did not
choose. What Meta-SGD learned is reported beside (:func:`learned_rate_means`), from its checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.experiments.config import TrainConfig
from xlmeta_lab.experiments.methods import METHODS
from xlmeta_lab.experiments.protocol.run import Condition
from xlmeta_lab.experiments.studies.conditions import TrainedConditions, train_conditions
from xlmeta_lab.experiments.training.checkpoints import CHECKPOINT_NAME


@dataclass(frozen=True)
class Variant:
    """One meta-learner's inner loop: the method, its inner steps, and whether its per-step rates are learned."""

    method: str
    inner_steps: int
    learned_rates: bool = False

    def __post_init__(self) -> None:
        if (
            self.method not in METHODS
            or not METHODS[self.method].is_meta
            or METHODS[self.method].inner_steps == 0
        ):
            raise ValueError(
                f"an inner-loop variant needs a meta-learner with an inner loop, got {self.method!r}"
            )
        if self.inner_steps < 1:
            raise ValueError(f"a variant needs at least one inner step, got {self.inner_steps}")
        if self.learned_rates and self.method == "reptile":
            raise ValueError(
                "Reptile's update does not differentiate through the inner loop: it cannot learn rates"
            )

    @property
    def name(self) -> str:
        """``maml-3``: MAML with 3 inner steps; ``maml-1-sgd``: one inner step at a learned rate per tensor."""
        return f"{self.method}-{self.inner_steps}" + ("-sgd" if self.learned_rates else "")

    def config(self, base: TrainConfig) -> TrainConfig:
        return replace(
            base, method=self.method, inner_steps=self.inner_steps, learn_inner_lr=self.learned_rates
        )

    def is_standard(self, base: TrainConfig) -> bool:
        """Trained as the profile's own conditions are (so the notebook's checkpoints are this variant's)."""
        return self.inner_steps == base.inner_steps and not self.learned_rates and not base.learn_inner_lr


def variants(
    methods: Sequence[str], inner_steps: Sequence[int], learned_rates: Sequence[int] = ()
) -> list[Variant]:
    """Every method at every inner-step count, then MAML with learned rates at each of ``learned_rates``."""
    grid = [Variant(m, s) for m in methods for s in inner_steps]
    return grid + [Variant("maml", s, learned_rates=True) for s in learned_rates]


def variant_folder(checkpoints: Path, variant: Variant, base: TrainConfig) -> Path:
    """Where a variant's runs live: the notebook's own folder for the standard inner loop (its ``method-seedN``
    runs), ``inner/<name>/`` beside it for the others."""
    return checkpoints if variant.is_standard(base) else checkpoints / "inner" / variant.name


def train_variants(
    languages: Mapping[str, Sequence[Sentence]],
    base: TrainConfig,
    chosen: Sequence[Variant],
    seeds: Sequence[int],
    *,
    checkpoints: Path,
    baseline: str = "joint",
    workers: int | None = None,
    device: str | torch.device = "cpu",
) -> TrainedConditions:
    """The baseline and every variant on ``seeds``, each condition named by its variant (``maml-3``, ...); resumable
    from ``checkpoints``. The baseline is trained with ``base`` (the profile's inner loop, so its passes per step are
    the notebook's)."""
    names = [v.name for v in chosen]
    if len(set(names)) != len(names):
        raise ValueError(f"variants named twice: {names}")
    trained = train_conditions(
        languages, base, [baseline], seeds, scratch=False, out_dir=checkpoints, workers=workers, device=device
    )
    conditions, runs = list(trained.conditions), dict(trained.runs)
    for variant in chosen:
        one = train_conditions(
            languages,
            variant.config(base),
            [variant.method],
            seeds,
            scratch=False,
            out_dir=variant_folder(checkpoints, variant, base),
            workers=workers,
            device=device,
        )
        if one.backbone != trained.backbone:
            raise RuntimeError(
                f"{variant.name} built another vocabulary: train every variant on the same data"
            )
        conditions.append(replace(one.conditions[0], name=variant.name))
        runs[variant.name] = one.runs[variant.method]
    return TrainedConditions(conditions, runs, trained.backbone)


def learned_rate_means(
    checkpoints: Path, variant: Variant, base: TrainConfig, seeds: Sequence[int]
) -> list[dict[str, float | int | str]]:
    """A Meta-SGD variant's learned inner rates, averaged over its tensors, per inner step and seed (from its
    checkpoints): how far its steps moved from the ``inner_lr`` they started at."""
    if not variant.learned_rates:
        raise ValueError(f"{variant.name} has no learned rates")
    rows: list[dict[str, float | int | str]] = []
    for seed in seeds:
        path = variant_folder(checkpoints, variant, base) / f"{variant.method}-seed{seed}" / CHECKPOINT_NAME
        state = torch.load(path, map_location="cpu", weights_only=False)["state"]["inner_rates"]
        per_step = torch.stack([rates for rates in state.values()])  # [tensors, inner steps]
        for step, mean in enumerate(per_step.mean(dim=0).tolist()):
            rows.append({"variant": variant.name, "seed": seed, "inner_step": step + 1, "mean_rate": mean,
                         "start": base.inner_lr})  # fmt: skip
    return rows


def condition_of(trained: TrainedConditions, name: str) -> Condition:
    """The trained condition called ``name``."""
    for condition in trained.conditions:
        if condition.name == name:
            return condition
    raise KeyError(f"no condition {name!r}; trained: {[c.name for c in trained.conditions]}")
