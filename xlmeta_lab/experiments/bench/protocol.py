"""``xlmeta bench --protocol``: how fast does the few-shot protocol fine-tune, on its own workload?

The protocol's time goes to fine-tuning: every (condition, seed) fine-tunes ``n_draws`` support sets of each K
for the chosen number of steps (notebook 03's full profile: 5 draws of K = 1 to 50 for up to 400 steps), and
K = 50 dominates. Three ways of doing the same fine-tuning are timed here, interleaved in one process on one
thread, on the profile's own model size, French support pool and draws, so their *ratios* hold on a shared
machine where absolute times do not:

- ``loop``: the plain loop a learner writes first: one draw after another (padded as the stacked draws are, so
  it computes the same numbers), ``torch.optim.SGD`` and ``backward()``; written here independently of the
  engine, so its weights also check the others';
- ``stacked``: the draws stacked (padded to the longest sentence of all) in one vmapped trajectory, as the
  protocol ran before length buckets;
- ``buckets``: the same in length buckets (:func:`~xlmeta_lab.experiments.adaptation.finetune.length_buckets`,
  K > 16), as the protocol ran before spelling words once;
- ``spelled``: the sets as :func:`~xlmeta_lab.experiments.adaptation.finetune.fine_tuning_sets` gives them, the
  protocol's way now: in length buckets, each draw's words spelled once (:mod:`xlmeta_lab.episodes.word_types`);
- ``spelled/draw``: the same on the engine's per-draw loop instead of vmap (``batched=False``).

Rates are fine-tuning steps per second (one step of one draw) and sentence passes per second (a step of a
draw of K sentences is K passes). The budget search fine-tunes the same draws at every rate of its grid:
:func:`time_rates` times that as one call per rate (``apart``) against all rates x draws in one vmapped call
(``together``, :func:`~xlmeta_lab.meta.adapt_trajectories`), which is where
:data:`~xlmeta_lab.experiments.adaptation.finetune.RATES_TOGETHER_UP_TO` comes from. From the rates,
:func:`unit_seconds` estimates one (condition, seed)'s fine-tuning
at the profile's largest step count.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from xlmeta_lab.episodes.encoders import SentenceEncoder
from xlmeta_lab.episodes.samplers import support_draws
from xlmeta_lab.episodes.tensors import Labeled, take_sentences
from xlmeta_lab.experiments.adaptation.finetune import fine_tuning_sets, finetune_batch, length_buckets
from xlmeta_lab.experiments.protocol.run import stack_draws
from xlmeta_lab.meta import adapt_trajectories
from xlmeta_lab.meta.params import Params
from xlmeta_lab.models.tagger import tagging_loss

WAYS = ("loop", "stacked", "buckets", "spelled", "spelled/draw")


@dataclass(frozen=True)
class ProtocolRow:
    """One K: each way's median seconds for ``steps`` steps on every draw, with rates and ratios."""

    k: int
    n_draws: int
    steps: int
    seconds: dict[str, float]
    spread: dict[str, float]  # (max - min) / median of each way's timings
    max_weight_diff: float  # the vmapped ways' weights against the loop's, after the timed steps

    def steps_per_s(self, way: str) -> float:
        return self.n_draws * self.steps / self.seconds[way]

    def passes_per_s(self, way: str) -> float:
        return self.k * self.steps_per_s(way)

    def ratio(self, way: str, baseline: str) -> float:
        return self.seconds[baseline] / self.seconds[way]


def time_protocol(
    model: nn.Module,
    pool: Sequence,
    encoder: SentenceEncoder,
    ks: Sequence[int],
    *,
    n_draws: int,
    steps: int,
    lr: float,
    repeats: int = 3,
    seed: int = 0,
) -> list[ProtocolRow]:
    """Time the ways of :data:`WAYS` (module doc) on ``n_draws`` draws of each K from ``pool``, ``steps`` steps
    each, ``repeats`` interleaved rounds (loop, stacked, buckets, ..., loop, ...) after one untimed warm-up round."""
    rows = []
    for k in ks:
        draws = support_draws(pool, k, n_draws, seed)
        stacked = stack_draws(draws, encoder)
        buckets = length_buckets(draws, encoder, model, "zero", stacked)
        spelled = fine_tuning_sets(draws, encoder, model, "zero", stacked)

        def tuned(sets: Any, batched: bool | str = "auto") -> Params:
            return finetune_batch(model, sets, lr=lr, record=(steps,), batched=batched)[steps]

        ways: dict[str, Callable[[], Params]] = {
            "loop": lambda s=stacked: _plain_loop(model, s, steps=steps, lr=lr),
            "stacked": lambda s=stacked: tuned(s),
            "buckets": lambda b=buckets: tuned(b),
            "spelled": lambda b=spelled: tuned(b),
            "spelled/draw": lambda b=spelled: tuned(b, batched=False),
        }
        weights = {way: run() for way, run in ways.items()}  # warm-up, and the weights to compare
        timings: dict[str, list[float]] = {way: [] for way in WAYS}
        for _ in range(repeats):
            for way in WAYS:
                start = time.perf_counter()
                ways[way]()
                timings[way].append(time.perf_counter() - start)
        gap = max(
            (weights[way][n] - weights["loop"][n]).abs().max().item()
            for way in WAYS[1:]
            for n in weights["loop"]
        )
        medians = {way: statistics.median(t) for way, t in timings.items()}
        spread = {way: (max(t) - min(t)) / medians[way] for way, t in timings.items()}
        rows.append(ProtocolRow(k, n_draws, steps, medians, spread, gap))
    return rows


@dataclass(frozen=True)
class RatesRow:
    """One K: the grid's rates fine-tuned one call each (``apart``) and in one call (``together``), medians."""

    k: int
    n_rates: int
    apart: float
    together: float
    spread: float  # the larger of the two ways' (max - min) / median
    max_weight_diff: float


def time_rates(
    model: nn.Module,
    pool: Sequence,
    encoder: SentenceEncoder,
    ks: Sequence[int],
    *,
    n_draws: int,
    steps: int,
    lrs: Sequence[float],
    repeats: int = 3,
    seed: int = 0,
) -> list[RatesRow]:
    """The budget search's fine-tuning at every rate of ``lrs``: one vmapped call per rate against one call for
    all, interleaved, after a warm-up that also gives the weights compared."""
    rows = []
    for k in ks:
        stacked = stack_draws(support_draws(pool, k, n_draws, seed), encoder)
        sets = [take_sentences(stacked, d) for d in range(n_draws)]

        def apart(stacked: Labeled = stacked) -> dict:
            return {lr: finetune_batch(model, stacked, lr=lr, record=(steps,))[steps] for lr in lrs}

        def together(sets: list[Labeled] = sets) -> dict:
            runs = adapt_trajectories(model, tagging_loss, sets, inner_lrs=lrs, record=(steps,))
            return {lr: run[steps] for lr, run in runs.items()}

        first, second = apart(), together()
        gap = max((first[lr][n] - second[lr][n]).abs().max().item() for lr in lrs for n in first[lr])
        timings: dict[str, list[float]] = {"apart": [], "together": []}
        for _ in range(repeats):
            for way, run in (("apart", apart), ("together", together)):
                start = time.perf_counter()
                run()
                timings[way].append(time.perf_counter() - start)
        medians = {way: statistics.median(t) for way, t in timings.items()}
        spread = max((max(t) - min(t)) / medians[way] for way, t in timings.items())
        rows.append(RatesRow(k, len(lrs), medians["apart"], medians["together"], spread, gap))
    return rows


def format_rates(rows: Sequence[RatesRow], steps: int) -> str:
    """The rates table of ``xlmeta bench --protocol``."""
    lines = [
        f"budget search: every rate of the grid, {steps} steps (apart: a call per rate; together: one call)"
    ]
    lines.append(
        f"{'K':>3} {'rates':>5} {'apart s':>8} {'together s':>10} {'x apart':>8} {'spread':>7} {'max diff':>9}"
    )
    for r in rows:
        lines.append(
            f"{r.k:>3} {r.n_rates:>5} {r.apart:>8.2f} {r.together:>10.2f} {r.apart / r.together:>8.2f} "
            f"{100 * r.spread:>6.0f}% {r.max_weight_diff:>9.1e}"
        )
    return "\n".join(lines)


def _plain_loop(model: nn.Module, stacked: Labeled, *, steps: int, lr: float) -> Params:
    """Each draw on its own: a copy of the model, plain SGD on the whole draw, ``backward()`` per step."""
    finals: list[dict[str, torch.Tensor]] = []
    for d in range(stacked.y.shape[0]):
        support = take_sentences(stacked, d)
        copy = deepcopy(model)
        optimiser = torch.optim.SGD(copy.parameters(), lr=lr)
        for _ in range(steps):
            optimiser.zero_grad()
            tagging_loss(copy(*support.x), support.y).backward()
            optimiser.step()
        finals.append({n: p.detach() for n, p in copy.named_parameters()})
    return {n: torch.stack([f[n] for f in finals]) for n in finals[0]}


def unit_seconds(rows: Sequence[ProtocolRow], way: str, *, n_draws: int, steps: int) -> float:
    """Estimated fine-tuning seconds of one (condition, seed): ``n_draws`` draws of every K of ``rows`` for
    ``steps`` steps, at ``way``'s measured rate (fine-tuning only: scoring and the budget choice come on top)."""
    return sum(n_draws * steps / row.steps_per_s(way) for row in rows)


def format_rows(rows: Sequence[ProtocolRow], *, n_draws: int, steps: int) -> str:
    """The table ``xlmeta bench --protocol`` prints, and one (condition, seed)'s estimated fine-tuning time."""
    lines = [
        f"{'K':>3} {'way':>12} {'steps/s':>9} {'passes/s':>9} {'x loop':>7} {'x stacked':>9} {'spread':>7}"
    ]
    for row in rows:
        for way in WAYS:
            lines.append(
                f"{row.k:>3} {way:>12} {row.steps_per_s(way):>9.1f} {row.passes_per_s(way):>9.0f} "
                f"{row.ratio(way, 'loop'):>7.2f} {row.ratio(way, 'stacked'):>9.2f} {100 * row.spread[way]:>6.0f}%"
            )
        lines.append(f"    max |weights - loop's| after {row.steps} steps: {row.max_weight_diff:.1e}")
    seconds = {way: unit_seconds(rows, way, n_draws=n_draws, steps=steps) for way in WAYS[:4]}
    now = seconds["spelled"]
    lines.append(
        f"one (condition, seed), {n_draws} draws of K = {', '.join(str(r.k) for r in rows)} at {steps} steps "
        "(fine-tuning only, estimated from these rates): "
        + ", ".join(f"{way} {s:.0f} s" for way, s in seconds.items())
        + f"; spelled {seconds['buckets'] / now:.2f}x faster than buckets, {seconds['stacked'] / now:.2f}x than "
        f"stacked, {seconds['loop'] / now:.2f}x than loop"
    )
    return "\n".join(lines)


def protocol_benchmark(
    settings: Mapping[str, Any],
    *,
    timed_steps: int = 20,
    repeats: int = 3,
    threads: int = 1,
    data_dir: str | None = None,
) -> str:
    """Time the UD protocol workload of a profile's ``settings`` (notebook 03's: its model size, French pool, Ks
    and draws) for ``timed_steps`` steps per draw, and return the printed table (estimates scale to the
    profile's largest step count)."""
    from xlmeta_lab.experiments.studies import udpos
    from xlmeta_lab.experiments.training.loop import split_validation
    from xlmeta_lab.models.registry import backbone_for

    torch.set_num_threads(threads)
    setup = udpos.ud_setup(settings, seed=0, data_dir=data_dir)
    config = setup.train_config  # the vocabulary training builds, so the embeddings have their real size
    backbone = backbone_for(
        config, split_validation(setup.training, config.val_fraction, config.data_seed)[0]
    )
    model = backbone.new_model(0)
    protocol = setup.protocol
    ks = [k for k in protocol.ks if k > 0]
    rows = time_protocol(
        model,
        setup.splits.support_pool,
        backbone.encoder,
        ks,
        n_draws=protocol.n_draws,
        steps=timed_steps,
        lr=max(protocol.lrs),
        repeats=repeats,
    )
    rates = time_rates(
        model,
        setup.splits.support_pool,
        backbone.encoder,
        ks,
        n_draws=protocol.budget_draws or protocol.n_draws,
        steps=timed_steps,
        lrs=protocol.lrs,
        repeats=repeats,
    )
    return (
        format_rows(rows, n_draws=protocol.n_draws, steps=max(protocol.steps))
        + "\n\n"
        + format_rates(rates, timed_steps)
    )
