"""Compute saved: how many French sentences, and how many fine-tuning steps, does each initialisation need to
reach a fixed accuracy, against a tagger trained from scratch?

For every condition, seed and support draw (the protocol's paired draws, nested across K) each initialisation is
fine-tuned on K French sentences with the step size its budget chose on the French holdout, recording the weights
after each step count of a grid, and scored on a test set: an accuracy *curve* per unit over (K, steps). Then

* **sentences needed**: the smallest K of the grid whose accuracy, at the most steps, reaches the target;
* **steps needed**: the smallest step count of the grid whose accuracy, at the largest K, reaches it.

A unit that never reaches the target within the grid is *censored*: it needs "more than the grid holds", which
is no number, so a mean (and its interval) is only given when every unit reached it; otherwise the count that
did is reported. A unit that reaches it at the grid's *first* value is censored the other way: it needs at most
that much, so those units are counted and the mean read as a bound (a step grid that starts at 0 avoids this).
**Saved** is the paired difference ``scratch needs - condition needs`` over units where both reached the target;
:func:`paired_gaps` compares two whole curves, which a threshold reads at one point only.

The target is not a number chosen by hand: by default it is what scratch itself reaches with the whole grid
(its mean accuracy at the largest K and the most steps), so the question becomes "with how much less French
does a pre-trained initialisation get where scratch gets with everything we give it?".
"""

from __future__ import annotations

import os
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.episodes.encoders import SentenceEncoder, encode_buckets
from xlmeta_lab.episodes.samplers import support_draws
from xlmeta_lab.experiments.adaptation.finetune import fine_tuning_sets, finetune_batch
from xlmeta_lab.experiments.adaptation.scoring import accuracy_per_draw, scoring_sets
from xlmeta_lab.experiments.protocol.cache import ProtocolCache, part_key, sentences_digest, weights_digest
from xlmeta_lab.experiments.protocol.results import Budget
from xlmeta_lab.experiments.protocol.run import Condition, one_seed, stack_draws
from xlmeta_lab.experiments.protocol.stats import Interval, mean_ci
from xlmeta_lab.experiments.workers import run_units, worker_count

Unit = tuple[int, int]  # (seed, draw)


def accuracy_curves(
    conditions: Sequence[Condition],
    budgets: Mapping[str, Budget],
    support_pool: Sequence[Sentence],
    test: Sequence[Sentence],
    encoder: SentenceEncoder,
    *,
    ks: Sequence[int],
    steps: Sequence[int],
    n_draws: int,
    draw_seed: int,
    cache: str | os.PathLike | None = None,
    workers: int | None = None,
) -> list[dict[str, Any]]:
    """Rows ``{condition, seed, draw, K, steps, accuracy}`` over the (K, steps) grid for every condition, each
    fine-tuning with its own ``budgets[name].lr`` (chosen on the holdout) on the protocol's draws, scored on
    ``test``; rows in the order of ``conditions``, then seeds, however they were computed.

    With ``cache`` (a folder), each (condition, seed)'s rows are kept there as soon as they are done, keyed by
    everything they depend on (weights, grid, lr, draws, sentences; see
    :mod:`~xlmeta_lab.experiments.protocol.cache`): in a full run this is about a quarter of an hour of
    one-thread fine-tuning, and a run stopped in it resumes instead of starting the curves again. ``workers``:
    processes to share the (condition, seed) units among (``None``: ``$XLMETA_WORKERS`` or 1,
    :func:`~xlmeta_lab.experiments.workers.worker_count`); a unit is the same call wherever it runs.
    """
    unbudgeted = [c.name for c in conditions if c.name not in budgets]
    if unbudgeted:
        raise ValueError(
            f"no fine-tuning budget for {unbudgeted}: choose one on the holdout first (run_protocol)"
        )
    store = ProtocolCache(cache) if cache is not None else None
    grid = _Grid(
        support_pool, encode_buckets(test, encoder), encoder, tuple(ks), tuple(steps), n_draws, draw_seed
    )
    done: dict[tuple[str, int], list[dict[str, Any]]] = {}
    missing: list[tuple[Condition, Budget, str]] = []
    for condition in conditions:
        budget = budgets[condition.name]
        for i, (seed, model) in enumerate(zip(condition.seeds, condition.models)):
            key = part_key(
                kind="savings", condition=condition.name, seed=seed, adapt=condition.adapt,
                weights=weights_digest(model), lr=budget.lr, ks=list(ks), steps=list(steps), n_draws=n_draws,
                draw_seed=draw_seed, support_pool=sentences_digest(support_pool), test=sentences_digest(test),
            )  # fmt: skip
            kept = store.load("savings", key) if store is not None else None
            if kept is None:
                missing.append((one_seed(condition, i), budget, key))
            else:
                done[(condition.name, seed)] = kept
    units = [(condition, budget) for condition, budget, _ in missing]
    for j, rows in run_units(_seed_curves, units, grid, worker_count(workers)):
        condition, _, key = missing[j]
        seed = condition.seeds[0]
        done[(condition.name, seed)] = rows
        if store is not None:
            store.save("savings", key, rows, {"condition": condition.name, "seed": seed})
    return [row for c in conditions for seed in c.seeds for row in done[(c.name, seed)]]


@dataclass(frozen=True)
class _Grid:
    """What every (condition, seed) unit of :func:`accuracy_curves` shares: sent once to each worker."""

    support_pool: Sequence[Sentence]
    test_data: Any
    encoder: SentenceEncoder
    ks: tuple[int, ...]
    steps: tuple[int, ...]
    n_draws: int
    draw_seed: int


def _seed_curves(grid: _Grid, unit: tuple[Condition, Budget]) -> list[dict[str, Any]]:
    """One seed's curves (``condition`` holds that seed's model only)."""
    condition, budget = unit
    seed, model = condition.seeds[0], condition.models[0]
    rows = []
    test_data = scoring_sets(model, grid.test_data)
    for k in grid.ks:
        draws = support_draws(grid.support_pool, k, grid.n_draws, grid.draw_seed)
        supports = fine_tuning_sets(draws, grid.encoder, model, "zero", stack_draws(draws, grid.encoder))
        trajectory = finetune_batch(model, supports, lr=budget.lr, record=grid.steps, adapt=condition.adapt)
        for n_steps, weights in trajectory.items():
            for draw, (correct, total) in enumerate(accuracy_per_draw(model, weights, test_data)):
                rows.append(
                    {
                        "condition": condition.name,
                        "seed": seed,
                        "draw": draw,
                        "K": k,
                        "steps": n_steps,
                        "accuracy": correct / total,
                    }
                )
    return rows


def scratch_target(rows: Sequence[Mapping[str, Any]], baseline: str = "scratch") -> float:
    """The mean accuracy ``baseline`` reaches at the largest K with the most steps: the default target."""
    mine = [r for r in rows if r["condition"] == baseline]
    if not mine:
        raise ValueError(f"no rows of {baseline!r} to set the target from")
    k, steps = max(r["K"] for r in mine), max(r["steps"] for r in mine)
    return statistics.fmean(r["accuracy"] for r in mine if r["K"] == k and r["steps"] == steps)


def first_reaching(curve: Mapping[int, float], target: float) -> int | None:
    """The smallest grid value whose accuracy is at least ``target``; ``None`` if none reaches it."""
    return next((x for x in sorted(curve) if curve[x] >= target), None)


def along(rows: Sequence[Mapping[str, Any]], over: str) -> tuple[str, int, list[Mapping[str, Any]]]:
    """One direction of the (K, steps) grid: over ``"K"`` at the most steps, or over ``"steps"`` at the largest K.
    Returns the axis held fixed, the value it is held at, and the rows there."""
    if over not in ("K", "steps"):
        raise ValueError(f"over must be 'K' or 'steps', got {over!r}")
    fixed = "steps" if over == "K" else "K"
    at = max(r[fixed] for r in rows)
    return fixed, at, [r for r in rows if r[fixed] == at]


def needed(rows: Sequence[Mapping[str, Any]], target: float, over: str) -> dict[str, dict[Unit, int | None]]:
    """Per condition and unit (seed, draw): the least ``over`` (``"K"`` at the most steps, or ``"steps"`` at
    the largest K) that reaches ``target``; ``None`` where the grid never does."""
    curves: dict[str, dict[Unit, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in along(rows, over)[2]:
        curves[r["condition"]][(r["seed"], r["draw"])][r[over]] = r["accuracy"]
    return {
        name: {unit: first_reaching(curve, target) for unit, curve in units.items()}
        for name, units in curves.items()
    }


def summarise_needed(
    needs: Mapping[str, Mapping[Unit, int | None]], baseline: str = "scratch", *, floor: int | None = None
) -> list[dict[str, Any]]:
    """Per condition: how many units reached the target, the mean need with its interval (only when all did),
    the paired saving ``baseline - condition`` over the units where both reached it, and how many units only
    this condition reached (their saving is beyond what the grid measures).

    ``floor`` is the grid's smallest value. A unit that already reaches the target there needs *at most* that
    much, not exactly that much (it is censored from below, as a unit that never reaches it is from above), so
    ``at_floor`` counts them: with any, the mean need is an upper bound and the saving a lower bound. A grid
    that starts at 0 (no fine-tuning steps) has nothing below its floor, so nothing is counted there."""
    base = needs.get(baseline, {})
    out = []
    for name, units in needs.items():
        reached = [v for v in units.values() if v is not None]
        at_floor = sum(v == floor for v in reached) if floor else 0
        whole: Interval | None = mean_ci(reached) if reached and len(reached) == len(units) else None
        shared = [u for u, v in units.items() if v is not None and base.get(u) is not None]
        saved = mean_ci([base[u] - units[u] for u in shared]) if shared and name != baseline else None
        beyond = sum(v is not None and base.get(u, 0) is None for u, v in units.items())
        out.append(
            {
                "condition": name,
                "units": len(units),
                "reached": len(reached),
                "needed": whole,
                "saved": saved,
                "saved_units": len(shared),
                # units where this condition reached the target and the baseline never did: a saving larger
                # than the grid can measure, left out of "saved" (which would otherwise understate it)
                "beyond_grid": beyond if name != baseline else 0,
                "at_floor": at_floor,
                "floor": floor,
                "baseline": baseline,
            }
        )
    return out


def paired_gaps(
    rows: Sequence[Mapping[str, Any]], condition: str, baseline: str, over: str
) -> dict[int, Interval]:
    """``condition - baseline`` accuracy at each grid value of ``over`` (steps at the largest K, or K at the most
    steps), paired over units: the whole curve, where "needed" reads one crossing of the target.

    A threshold only says *where* two curves cross it, at the grid's resolution; two initialisations that both
    cross between two grid values look the same there even when one got there much faster. The gaps show it.
    """
    accuracy = {
        (r["condition"], r[over], r["seed"], r["draw"]): r["accuracy"]
        for r in along(rows, over)[2]
        if r["condition"] in (condition, baseline)
    }
    gaps = {}
    for x in sorted({key[1] for key in accuracy}):
        units = [key[2:] for key in accuracy if key[0] == condition and key[1] == x]
        pairs = [(accuracy[(condition, x, *u)], accuracy.get((baseline, x, *u))) for u in units]
        gaps[x] = mean_ci([a - b for a, b in pairs if b is not None])
    return gaps
