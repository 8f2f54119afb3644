"""Figures of notebook 05 (source languages, similarity, gradient alignment, compute saved); each returns its axes.

Colours are per training method (:func:`xlmeta_lab.teaching.plots.protocol.colour_of`), the same as in every other
figure of the workbook; a condition ``maml@en+es`` is drawn in MAML's colour. Every interval is the 95% CI
over seeds x draws; with fewer than 3 units there is none, and the title says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from xlmeta_lab.experiments.protocol.stats import MIN_UNITS_FOR_INTERVAL
from xlmeta_lab.experiments.studies import savings
from xlmeta_lab.teaching.plots.protocol import colour_of


def _method(name: str) -> str:
    return name.split("@", 1)[0]


def plot_source_sets(
    summary: Sequence[Mapping[str, Any]],
    sets: Sequence[str],
    methods: Sequence[str],
    k: int,
    *,
    test_set: str,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """French accuracy at K after training on each source set, one bar per method, 95% CI as error bars."""
    ax = ax or plt.subplots(figsize=(10, 3.8))[1]
    rows = {r["condition"]: r for r in summary if r["K"] == k and r["test_set"] == test_set}
    width = 0.8 / len(methods)
    n = 0
    for i, method in enumerate(methods):
        for j, name in enumerate(sets):
            row = rows.get(f"{method}@{name}")
            if row is None:
                continue
            n = max(n, row["n"])
            x = j + (i - (len(methods) - 1) / 2) * width
            ax.bar(x, 100 * row["mean"], width, color=colour_of(method, i), label=method if j == 0 else None)
            if not math.isnan(row["ci_low"]) and row["n"] >= MIN_UNITS_FOR_INTERVAL:
                ax.errorbar(
                    x,
                    100 * row["mean"],
                    yerr=[[100 * (row["mean"] - row["ci_low"])], [100 * (row["ci_high"] - row["mean"])]],
                    color="k",
                    lw=1,
                    capsize=2,
                )
    ax.set_xticks(range(len(sets)), list(sets), rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"French accuracy at K={k} (%)")
    bands = "95% CI over seeds x draws" if n >= MIN_UNITS_FOR_INTERVAL else f"n={n}: no intervals"
    ax.set_title(title or f"Trained on each source set, adapted to French ({test_set}; {bands})", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return ax


def plot_similarity_vs_transfer(
    similarity: Mapping[str, float],
    accuracy: Mapping[str, Mapping[str, float]],
    *,
    measure: str,
    k: int,
    ax: Axes | None = None,
) -> Axes:
    """One point per source language: its similarity to French (x) against French accuracy at K (y), per method
    (``accuracy = {method: {language: mean accuracy}}``), each point labelled with its language."""
    ax = ax or plt.subplots(figsize=(4.6, 3.8))[1]
    for i, (method, by_lang) in enumerate(accuracy.items()):
        langs = [lang for lang in by_lang if lang in similarity and not math.isnan(similarity[lang])]
        xs, ys = [similarity[lang] for lang in langs], [100 * by_lang[lang] for lang in langs]
        ax.scatter(xs, ys, color=colour_of(method, i), label=method, s=22)
        for lang, x, y in zip(langs, xs, ys):
            ax.annotate(lang, (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    ax.set_xlabel(measure)
    ax.set_ylabel(f"French accuracy at K={k} (%)")
    ax.set_title(f"{measure}\nvs transfer to French", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def plot_alignment(rows: Sequence[Mapping[str, Any]], method: str, *, ax: Axes | None = None) -> Axes:
    """Gradient cosine against training step for every pair of languages (mean over seeds): solid across two
    sources, dashed with French, dotted within one language (two disjoint sets of episodes)."""
    ax = ax or plt.subplots(figsize=(5.5, 3.8))[1]
    mine = [r for r in rows if r["method"] == method]
    styles = {"across": "-", "target": "--", "within": ":"}
    pairs = list(dict.fromkeys((r["a"], r["b"], r["kind"]) for r in mine))
    for i, (a, b, kind) in enumerate(pairs):
        steps = sorted({r["step"] for r in mine})
        means = []
        for step in steps:
            values = [r["cosine"] for r in mine if (r["a"], r["b"], r["step"]) == (a, b, step)]
            means.append(sum(values) / len(values))
        label = f"{a} (two halves)" if kind == "within" else f"{a}-{b}"
        ax.plot(steps, means, styles[kind], marker="o", ms=3, color=f"C{i % 10}", label=label, lw=1.4)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("training step")
    ax.set_ylabel("cosine of the languages' directions")
    ax.set_title(f"Gradient alignment along training: {method}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return ax


def plot_savings_curves(
    rows: Sequence[Mapping[str, Any]], target: float, *, over: str = "K", ax: Axes | None = None
) -> Axes:
    """Mean accuracy against K (at the most steps) or against steps (at the largest K), one line per
    condition, with the target as a horizontal line: where a line crosses it is what that condition needs."""
    ax = ax or plt.subplots(figsize=(5.5, 3.8))[1]
    fixed, at, curve = savings.along(rows, over)
    for i, name in enumerate(dict.fromkeys(r["condition"] for r in rows)):
        xs = sorted({r[over] for r in curve if r["condition"] == name})
        ys = []
        for x in xs:
            values = [r["accuracy"] for r in curve if r["condition"] == name and r[over] == x]
            ys.append(100 * sum(values) / len(values))
        ax.plot(xs, ys, "o-", color=colour_of(_method(name), i), label=name, lw=1.6, ms=4)
    ax.axhline(100 * target, color="k", lw=1, ls="--", label=f"target {100 * target:.1f}%")
    grid = sorted({r[over] for r in rows})
    if grid[0] > 0:
        ax.set_xscale("log")
    else:  # 0 steps (the initialisation itself) has no place on a log axis: linear up to the first step count
        ax.set_xscale("symlog", linthresh=grid[1] if len(grid) > 1 else 1, linscale=0.5)
    ax.set_xticks(grid, [str(x) for x in grid])
    what = "K (French sentences)" if over == "K" else "fine-tuning steps"
    ax.set_xlabel(f"{what}, at {fixed}={at}")
    ax.set_ylabel("French accuracy (%)")
    ax.set_title(f"What each initialisation needs: {what.split(' (')[0]}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax
