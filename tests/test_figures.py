"""Honest figures: no interval from fewer than 3 units, a quick run drawn as points over the committed reference,
and never two conditions of one figure in one colour."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from xlmeta_lab.teaching.plots.protocol import (  # noqa: E402
    COLOURS,
    colours_for,
    plot_accuracy_vs_k,
    plot_accuracy_vs_languages,
    plot_beside_reference,
    plot_learning_curves,
    plot_paired_differences,
)

#: Every condition a notebook of the workbook puts in one figure (03's section 4 has all of them at once).
CONDITIONS = ["scratch", "joint", "zero-shot", "maml", "fomaml", "reptile", "anil", "maml-genres"]


def summary(n: int, conditions: list[str] = CONDITIONS, ks: tuple[int, ...] = (0, 5, 20)) -> list[dict]:
    """Summary rows as the protocol writes them, each with an interval computed from ``n`` units."""
    rows = []
    for i, condition in enumerate(conditions):
        for k in ks:
            mean = 0.3 + 0.05 * i + 0.01 * k
            rows.append({
                "condition": condition, "K": k, "test_set": "fr_gsd-test", "n": n, "baseline": "joint",
                "mean": mean, "ci_low": mean - 0.1, "ci_high": mean + 0.1,
                "diff": float("nan") if condition == "joint" else 0.02 * i,
                "diff_low": 0.02 * i - 0.05, "diff_high": 0.02 * i + 0.05,
            })  # fmt: skip
    return rows


def legend_colours(ax: plt.Axes) -> dict[str, str]:
    """Each legend label of ``ax`` and the colour its handle (a line, or a bar's patches) is drawn in."""
    colours = {}
    for handle, label in zip(*ax.get_legend_handles_labels()):
        colour = handle.get_color() if hasattr(handle, "get_color") else handle.patches[0].get_facecolor()
        colours[label] = to_hex(colour)
    return colours


def bands(ax: plt.Axes) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def error_bars(ax: plt.Axes) -> list[ErrorbarContainer]:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def test_the_workbook_gives_every_condition_its_own_colour() -> None:
    assert len(set(COLOURS.values())) == len(COLOURS)
    assert COLOURS["fomaml"] != COLOURS["maml-genres"] and COLOURS["joint"] != COLOURS["zero-shot"]
    mixed = colours_for(["maml", "en only", "es only", "en+es", "joint", "fomaml-genres"])
    assert len(set(mixed.values())) == len(mixed) and mixed["maml"] == COLOURS["maml"]


@pytest.mark.parametrize(
    "draw",
    [
        lambda ax: plot_accuracy_vs_k(summary(15), ax=ax),
        lambda ax: plot_paired_differences(summary(15), ax=ax),
        lambda ax: plot_beside_reference(summary(2), summary(15), test_set="fr_gsd-test", ax=ax),
        lambda ax: plot_learning_curves(
            {c: [[{"step": 1, "loss": 1.0, "val_acc_adapted": 0.5}]] for c in CONDITIONS},
            axes=[ax, ax.twinx()],
        ),
    ],
    ids=["accuracy_vs_k", "paired_differences", "beside_reference", "learning_curves"],
)
def test_no_two_conditions_of_one_figure_share_a_colour(draw) -> None:
    ax = plt.subplots()[1]
    draw(ax)
    colours = {label: colour for label, colour in legend_colours(ax).items() if label in CONDITIONS}
    assert len(colours) >= len(CONDITIONS) - 1, colours  # joint has no paired difference to itself
    shared = {c for c in colours.values() if list(colours.values()).count(c) > 1}
    assert not shared, f"conditions sharing a colour: {[n for n, c in colours.items() if c in shared]}"
    plt.close("all")


def test_languages_figure_keeps_its_methods_apart() -> None:
    rows = [dict(r, condition=f"{r['condition']}@{size}") for size in (2, 5) for r in summary(15, ["joint", "maml", "fomaml"], (4,))]  # fmt: skip
    ax = plot_accuracy_vs_languages(rows, ["joint", "maml", "fomaml"], [2, 5], 4, ax=plt.subplots()[1])
    assert len(set(legend_colours(ax).values())) == 3
    plt.close("all")


@pytest.mark.parametrize(("n", "drawn"), [(1, False), (2, False), (3, True), (15, True)])
def test_an_interval_needs_three_units(n: int, drawn: bool) -> None:
    """A quick run's 2 units give a t-interval 12.7 spreads wide: it is not drawn, and the title says why."""
    ax = plot_accuracy_vs_k(summary(n), ax=plt.subplots()[1])
    assert bool(bands(ax)) == drawn
    assert ("no intervals" in ax.get_title()) == (not drawn)
    ax = plot_paired_differences(summary(n), ax=plt.subplots()[1])
    assert bool(error_bars(ax)) == drawn
    assert ("no error bars" in ax.get_title()) == (not drawn)
    plt.close("all")


def test_a_quick_run_is_drawn_as_points_over_the_reference_with_its_intervals() -> None:
    reference, quick = summary(15), summary(2)
    ax = plot_beside_reference(quick, reference, test_set="fr_gsd-test", ax=plt.subplots()[1])
    assert len(bands(ax)) == len(CONDITIONS)  # the reference's, one per condition; none for the quick run
    points = [line for line in ax.get_lines() if line.get_linestyle() == "None" and line.get_marker() == "D"]
    assert len(points) == len(CONDITIONS)
    quick_means = sorted(100 * r["mean"] for r in quick)
    assert sorted(y for line in points for y in line.get_ydata()) == pytest.approx(quick_means)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any(label.startswith("points: this quick run (n = 2)") for label in labels)
    assert any("committed full run" in label for label in labels)
    assert not any(math.isnan(y) for line in points for y in line.get_ydata())
    plt.close("all")
