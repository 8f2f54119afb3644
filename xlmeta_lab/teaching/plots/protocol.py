"""Figures for the few-shot protocol and for training: one function per picture, each returns its axes.

Every interval drawn is the 95% confidence interval of :mod:`xlmeta_lab.experiments.protocol.stats`. With fewer
than :data:`MIN_UNITS_FOR_INTERVAL` units (a ``quick`` run's 1 seed x 2 draws) there is no honest interval (a
t-interval from 2 units multiplies the spread by 12.7), so none is drawn and the title says so. A ``quick`` run
is best read beside the committed ``full`` run: :func:`plot_beside_reference` draws the reference with its
intervals and the quick run's means as points, labelled as such.

Each condition has one colour across the workbook (:data:`COLOURS`), and no two conditions of one figure share
one (:func:`colours_for`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from xlmeta_lab.experiments.protocol.stats import MIN_UNITS_FOR_INTERVAL

#: One colour per condition, the same in every figure of the workbook, no two alike.
COLOURS = {
    "scratch": "#7f7f7f",
    "joint": "#1f77b4",
    "zero-shot": "#17becf",  # the joint model without French: joint's hue family, its own colour
    "maml": "#d62728",
    "fomaml": "#ff7f0e",
    "reptile": "#2ca02c",
    "anil": "#9467bd",
    "maml-genres": "#8c564b",
    "protonet": "#e377c2",
}
#: For conditions outside :data:`COLOURS` (a source set, a learner's own name): none of them is a named one's.
SPARE_COLOURS = ("#bcbd22", "#393b79", "#637939", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354")


def colours_for(names: Iterable[str]) -> dict[str, str]:
    """A colour for each of ``names``: its workbook colour when it has one, else the next spare colour that no other
    name of the same figure uses, so the figure's legend never pairs two conditions with one colour."""
    names = list(dict.fromkeys(names))
    chosen = {name: COLOURS[name] for name in names if name in COLOURS}
    spare = (c for c in SPARE_COLOURS * (1 + len(names) // len(SPARE_COLOURS)) if c not in chosen.values())
    for name in names:
        if name not in chosen:
            chosen[name] = next(spare)
    return chosen


def colour_of(name: str, index: int) -> str:
    """The workbook colour of ``name``, else the ``index``-th spare colour (figures of many conditions: use
    :func:`colours_for`, which also keeps unnamed conditions apart)."""
    return COLOURS.get(name, SPARE_COLOURS[index % len(SPARE_COLOURS)])


def has_interval(row: Mapping[str, Any]) -> bool:
    """Whether a summary row's interval may be drawn: computed, and from at least 3 units."""
    return not math.isnan(row["ci_low"]) and row["n"] >= MIN_UNITS_FOR_INTERVAL


def band_note(rows: Sequence[Mapping[str, Any]]) -> str:
    n = max((r["n"] for r in rows), default=0)
    if n < MIN_UNITS_FOR_INTERVAL:
        return f"no intervals: n = {n} units (seeds x draws) per point, fewer than {MIN_UNITS_FOR_INTERVAL}"
    return f"bands: 95% CI over seeds x draws (n <= {n})"


def accuracy_line(
    ax: Axes, xs: Sequence[float], rows: Sequence[Mapping[str, Any]], label: str, colour: str
) -> None:
    """Mean accuracy of summary ``rows`` at ``xs`` as a line, and its 95% CI as a band where it may be drawn."""
    ax.plot(xs, [100 * r["mean"] for r in rows], "o-", color=colour, label=label, lw=1.8, ms=4)
    banded = [(x, r) for x, r in zip(xs, rows) if has_interval(r)]
    if banded:
        ax.fill_between(
            [x for x, _ in banded],
            [max(0.0, 100 * r["ci_low"]) for _, r in banded],  # accuracy lives in [0, 100]
            [min(100.0, 100 * r["ci_high"]) for _, r in banded],
            color=colour,
            alpha=0.15,
            lw=0,
        )


def plot_accuracy_vs_k(
    summary: Sequence[Mapping[str, Any]],
    *,
    test_set: str | None = None,
    conditions: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    metric: str = "token accuracy",
    k_label: str = "K (support sentences of the new language)",
) -> Axes:
    """Mean accuracy (``metric``) against K, one line per condition, with its 95% CI as a band.

    K is drawn on evenly spaced positions (K = 0, 1, 5, 10, ... are not evenly spaced numbers, but each is
    one setting of the experiment); K = 0 is "no fine-tuning".
    """
    test_set = test_set or summary[0]["test_set"]
    rows = [r for r in summary if r["test_set"] == test_set]
    names = list(conditions or dict.fromkeys(r["condition"] for r in rows))
    ks = sorted({r["K"] for r in rows})
    x_of = {k: i for i, k in enumerate(ks)}
    ax = ax or plt.subplots(figsize=(6.4, 4.2))[1]
    colours = colours_for(names)
    for name in names:
        points = sorted((r for r in rows if r["condition"] == name), key=lambda r: r["K"])
        if not points:
            continue
        xs = [x_of[r["K"]] for r in points]
        accuracy_line(ax, xs, points, name, colours[name])
    ax.set_xticks(range(len(ks)), [str(k) for k in ks])
    ax.set_xlabel(k_label)
    ax.set_ylabel(f"{metric} on test (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title or f"Few-shot accuracy on {test_set}\n{band_note(rows)}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def plot_paired_differences(
    summary: Sequence[Mapping[str, Any]],
    *,
    test_set: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Each condition minus the baseline, paired over the same (seed, draw), with 95% CIs, against K."""
    test_set = test_set or summary[0]["test_set"]
    rows = [r for r in summary if r["test_set"] == test_set and not math.isnan(r["diff"])]
    ks = sorted({r["K"] for r in rows})
    names = list(dict.fromkeys(r["condition"] for r in rows))
    ax = ax or plt.subplots(figsize=(6.4, 4.2))[1]
    width = 0.8 / max(1, len(names))
    colours = colours_for(names)
    for i, name in enumerate(names):
        for r in (r for r in rows if r["condition"] == name):
            x = ks.index(r["K"]) + (i - (len(names) - 1) / 2) * width
            low, high = r["diff_low"], r["diff_high"]
            ax.bar(x, 100 * r["diff"], width, color=colours[name], label=name if r["K"] == ks[0] else None)
            if not math.isnan(low) and r["n"] >= MIN_UNITS_FOR_INTERVAL:
                ax.errorbar(
                    x,
                    100 * r["diff"],
                    yerr=[[100 * (r["diff"] - low)], [100 * (high - r["diff"])]],
                    color="k",
                    lw=1,
                    capsize=2,
                )
    ax.axhline(0, color="k", lw=0.8)
    # With few units an interval can be huge; keep the bars readable and let such error bars run off the plot.
    means = [100 * r["diff"] for r in rows] or [0.0]
    reach = 2 * max(abs(m) for m in means) + 5
    ax.set_ylim(max(-100.0, min(means) - reach), min(100.0, max(means) + reach))
    ax.set_xticks(range(len(ks)), [str(k) for k in ks])
    ax.set_xlabel("K")
    baseline = rows[0]["baseline"] if rows else "baseline"
    ax.set_ylabel(f"accuracy minus {baseline} (points)")
    n = max((r["n"] for r in rows), default=0)
    bars = "95% CI" if n >= MIN_UNITS_FOR_INTERVAL else f"no error bars: n = {n} pairs"
    ax.set_title(f"Paired difference to {baseline} (same draws), {bars}", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return ax


def plot_beside_reference(
    run: Sequence[Mapping[str, Any]],
    reference: Sequence[Mapping[str, Any]],
    *,
    test_set: str,
    conditions: Sequence[str] | None = None,
    run_label: str = "this quick run",
    ax: Axes | None = None,
    metric: str = "token accuracy",
) -> Axes:
    """This run's means as points over the committed full run's accuracy against K (lines, with their intervals),
    one colour per condition: a ``quick`` run has too few units for intervals of its own, and the reference is what
    says how far apart the conditions are."""
    ref_rows = [r for r in reference if r["test_set"] == test_set]
    run_rows = [r for r in run if r["test_set"] == test_set]
    names = list(conditions or dict.fromkeys(r["condition"] for r in [*ref_rows, *run_rows]))
    ks = sorted({r["K"] for r in [*ref_rows, *run_rows]})
    ax = ax or plt.subplots(figsize=(6.4, 4.2))[1]
    colours = colours_for(names)
    for name in names:
        committed = sorted((r for r in ref_rows if r["condition"] == name), key=lambda r: r["K"])
        if committed:
            accuracy_line(ax, [ks.index(r["K"]) for r in committed], committed, name, colours[name])
        mine = sorted((r for r in run_rows if r["condition"] == name), key=lambda r: r["K"])
        ax.plot([ks.index(r["K"]) for r in mine], [100 * r["mean"] for r in mine], "D", color=colours[name],
                mfc="white", mew=1.6, ms=6, label=None if committed else name)  # fmt: skip
    n_ref = max((r["n"] for r in ref_rows), default=0)
    n_run = max((r["n"] for r in run_rows), default=0)
    style = [
        plt.Line2D([], [], color="k", lw=1.8, label=f"lines: committed full run ({band_note(ref_rows)})"),
        plt.Line2D(
            [], [], color="k", marker="D", mfc="white", ls="none", label=f"points: {run_label} (n = {n_run})"
        ),
    ]
    handles, _ = ax.get_legend_handles_labels()
    # beside the axes, not over them: the quick points fall where a legend inside would sit
    ax.legend(handles=[*handles, *style], fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_xticks(range(len(ks)), [str(k) for k in ks])
    ax.set(xlabel="K", ylabel=f"{metric} on test (%)", ylim=(0, 100))
    ax.set_title(
        f"{test_set}: {run_label} (points) beside the committed full run (n <= {n_ref})", fontsize=10
    )
    ax.grid(alpha=0.3)
    return ax


def plot_learning_curves(
    histories: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]],
    *,
    metric: str = "val_acc_adapted",
    axes: Sequence[Axes] | None = None,
    smooth: int = 10,
) -> Sequence[Axes]:
    """Training loss (moving average over ``smooth`` steps) and a validation metric, per method and seed.

    ``histories`` maps a method to one history per seed (``TrainResult.history``). The joint baseline takes
    as many steps as it needs to match MAML's sentence passes, so the x axis is *steps of that method*.
    """
    if axes is None:
        axes = plt.subplots(1, 2, figsize=(11, 3.8))[1]
    loss_ax, val_ax = axes
    colours = colours_for(histories)
    for name, runs in histories.items():
        colour = colours[name]
        for j, history in enumerate(runs):
            steps = [r["step"] for r in history]
            losses = [r["loss"] for r in history]
            window = max(1, min(smooth, len(losses)))
            averaged = [
                sum(losses[max(0, t - window + 1) : t + 1]) / len(losses[max(0, t - window + 1) : t + 1])
                for t in range(len(losses))
            ]
            label = name if j == 0 else None
            loss_ax.plot(steps, averaged, color=colour, alpha=0.8, lw=1.2, label=label)
            val = [(r["step"], 100 * r[metric]) for r in history if metric in r]
            if val:
                val_ax.plot(*zip(*val), "o-", color=colour, alpha=0.8, lw=1.2, ms=3, label=label)
    loss_ax.set(xlabel="step", ylabel="training loss (query loss for meta-learners)", yscale="log")
    loss_ax.set_title(f"Training loss ({smooth}-step moving average)", fontsize=10)
    val_ax.set(xlabel="step", ylabel="accuracy (%)")
    what = "after the inner loop on a support set" if metric == "val_acc_adapted" else "without adaptation"
    val_ax.set_title(f"Validation on held-out sentences of the training languages\n({what})", fontsize=10)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return axes


def plot_tag_distribution(distributions: Mapping[str, Mapping[str, float]], ax: Axes | None = None) -> Axes:
    """Side-by-side bars of each language's share of every tag (``{language: {tag: share}}``)."""
    if ax is None:
        ax = plt.subplots(figsize=(12, 3.6))[1]
    tags = list(next(iter(distributions.values())))
    width = 0.8 / len(distributions)
    for i, (lang, shares) in enumerate(distributions.items()):
        positions = [t + i * width for t in range(len(tags))]
        ax.bar(positions, [100 * shares[tag] for tag in tags], width, label=lang)
    ax.set_xticks([t + width * (len(distributions) - 1) / 2 for t in range(len(tags))], tags, rotation=45)
    ax.set_ylabel("% of words")
    ax.set_title("UPOS tag distribution")
    ax.legend()
    return ax


def plot_accuracy_vs_languages(
    summary: Sequence[Mapping[str, Any]],
    methods: Sequence[str],
    sizes: Sequence[int],
    k: int,
    *,
    test_set: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """French accuracy at K against the number of training languages, one line per method (conditions named
    ``"<method>@<N>"``), each with its 95% CI as a band. The budget held fixed is in the title."""
    test_set = test_set or summary[0]["test_set"]
    ax = ax or plt.subplots(figsize=(6.4, 4.2))[1]
    n_units = 0
    colours = colours_for(methods)
    for method in methods:
        rows = [
            next(
                r
                for r in summary
                if r["condition"] == f"{method}@{n}" and r["K"] == k and r["test_set"] == test_set
            )
            for n in sizes
        ]
        n_units = max(n_units, *(r["n"] for r in rows))
        accuracy_line(ax, sizes, rows, method, colours[method])
    ax.set_xscale("log")
    ax.set_xticks(list(sizes), [str(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training languages (French never among them)")
    ax.set_ylabel(f"sentence accuracy on French test at K={k} (%)")
    ax.set_title(
        "More languages, same budget (outer steps x meta-batch)\n" + band_note([{"n": n_units}]),
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax
