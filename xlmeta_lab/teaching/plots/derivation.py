"""The figures of notebook 01: adaptation as a map on 2-D quadratic tasks, and how good the approximations are.

Plotting only; every number comes from :mod:`xlmeta_lab.teaching.derivation` and :mod:`xlmeta_lab.teaching.quadratic`. Each function draws on an axis it is
given (or makes a figure) and returns the figure, so a notebook can ``plt.show()`` or save it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from xlmeta_lab.teaching.quadratic import QuadraticTask

TASK_COLOURS = plt.get_cmap("tab10").colors


def _label_inner_lrs(ax: Axes, inner_lrs: np.ndarray) -> None:
    """Log x-axis with a tick at each ``inner_lr`` that was run, written plainly (``0.01``, not ``10^-2``)."""
    ax.set_xscale("log")
    ax.set_xticks(inner_lrs, labels=[f"{a:g}" for a in inner_lrs], rotation=45 if len(inner_lrs) > 6 else 0)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(r"inner_lr $\alpha$")


def plot_adaptation_map(
    tasks: Sequence[QuadraticTask],
    theta0: torch.Tensor,
    *,
    inner_lr: float,
    inner_steps: int = 1,
    ax: Axes | None = None,
    title: str | None = None,
    limits: tuple[float, float, float, float] | None = None,
    levels: Sequence[float] = (0.25, 1.0, 3.0),
    legend: bool = True,
) -> Figure:
    """Contours of each task's support loss and arrows from ``theta0`` to that task's adapted ``theta_i*``.

    One colour per task: its contours, its centre (``x``, the task's own optimum) and its adaptation
    path. The arrows are the map ``theta0 -> theta_i*`` whose Jacobian ``(I - alpha H_i)`` the chain rule
    multiplies in; MAML moves the black star so that the arrow *tips* land low on their own bowls.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5.0))
    centres = torch.stack([t.support.centre for t in tasks] + [theta0]).numpy()
    if limits is None:
        low, high = centres.min(0) - 1.5, centres.max(0) + 1.5
        limits = (low[0], high[0], low[1], high[1])
    xs = np.linspace(limits[0], limits[1], 200)
    ys = np.linspace(limits[2], limits[3], 200)
    grid = torch.tensor(np.stack(np.meshgrid(xs, ys), -1), dtype=theta0.dtype)
    handles = []
    for i, task in enumerate(tasks):
        colour = TASK_COLOURS[i % len(TASK_COLOURS)]
        diff = grid - task.support.centre
        values = 0.5 * torch.einsum("...i,ij,...j->...", diff, task.support.A, diff)
        ax.contour(xs, ys, values.numpy(), levels=list(levels), colors=[colour], linewidths=1.0, alpha=0.55)
        ax.plot(*task.support.centre.numpy(), marker="x", color=colour, markersize=8, mew=2)
        path = [theta0]
        for step in range(1, inner_steps + 1):
            path.append(task.adapt(theta0, inner_lr, step))
        for start, end in zip(path[:-1], path[1:]):
            ax.annotate(
                "",
                xy=end.numpy(),
                xytext=start.numpy(),
                arrowprops={"arrowstyle": "->", "color": colour, "lw": 2.0, "shrinkA": 0, "shrinkB": 0},
            )
        ax.plot(*path[-1].numpy(), marker="o", color=colour, markersize=6)
        handles.append(Line2D([], [], color=colour, lw=2, label=f"task {i + 1}"))
    ax.plot(*theta0.numpy(), marker="*", color="black", markersize=16, zorder=5)
    handles.append(
        Line2D([], [], color="black", marker="*", lw=0, markersize=12, label=r"$\theta_0$ (initialisation)")
    )
    handles.append(Line2D([], [], color="grey", marker="x", lw=0, mew=2, label="task optimum $c_i$"))
    handles.append(Line2D([], [], color="grey", marker="o", lw=0, label=r"adapted $\theta_i^*$"))
    if legend:
        ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.9)
    ax.set(xlim=limits[:2], ylim=limits[2:], xlabel=r"$\theta[0]$", ylabel=r"$\theta[1]$")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=10)
    return ax.figure


def plot_first_order_error(
    inner_lrs: Sequence[float],
    relative_errors: np.ndarray,
    cosines: np.ndarray,
    *,
    hessian_norm: float | None = None,
) -> Figure:
    """How far first-order MAML is from MAML as ``inner_lr`` grows: one thin line per seed, the median bold.

    ``relative_errors`` and ``cosines`` have one row per seed and one column per ``inner_lr``. A dotted
    vertical line marks ``alpha = 1 / |H_S|_2`` (median over tasks and seeds), the scale at which the
    dropped term ``alpha H_S g`` is as large as ``g`` itself can be.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    alphas = np.asarray(inner_lrs)
    for ax, values, label in (
        (left, np.asarray(relative_errors), r"relative error $|g_{FO} - g_{MAML}| \,/\, |g_{MAML}|$"),
        (right, np.asarray(cosines), r"cosine$(g_{FO}, g_{MAML})$"),
    ):
        for k, row in enumerate(values):
            ax.plot(alphas, row, color="tab:blue", alpha=0.3, lw=1, label="one seed" if k == 0 else None)
        ax.fill_between(
            alphas, values.min(0), values.max(0), color="tab:blue", alpha=0.1, label="min-max over seeds"
        )
        ax.plot(alphas, np.median(values, 0), color="tab:blue", lw=2.5, marker="o", label="median over seeds")
        if hessian_norm:
            ax.axvline(1 / hessian_norm, color="grey", ls=":", label=r"$\alpha = 1/|H_S|_2$")
        _label_inner_lrs(ax, alphas)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
    left.set_yscale("log")
    right.set_ylim(min(0.0, float(np.min(cosines)) - 0.05), 1.02)
    left.legend(fontsize=8)
    left.set_title("first-order MAML: how much of the meta-gradient it misses", fontsize=10)
    right.set_title("...and whether it still points the same way", fontsize=10)
    fig.tight_layout()
    return fig


def plot_reptile_taylor(
    inner_lrs: Sequence[float], errors: Mapping[int, Mapping[str, Sequence[float]]]
) -> Figure:
    """Relative error of Reptile's direction against its first- and second-order Taylor predictions, log-log.

    ``errors[K]`` comes from :func:`xlmeta_lab.teaching.derivation.reptile_taylor_errors`. Slopes 1 and 2 (grey
    guides) are what a correct expansion predicts; ``K = 1`` is left out because it is exact.
    """
    fig, ax = plt.subplots(figsize=(5.8, 4.2))
    alphas = np.asarray(inner_lrs)
    for i, (steps, curves) in enumerate(sorted(errors.items())):
        if steps == 1:
            continue
        colour = TASK_COLOURS[i % len(TASK_COLOURS)]
        ax.plot(alphas, curves["first_order"], "o--", color=colour, label=f"K={steps}: vs $g$")
        ax.plot(
            alphas,
            curves["second_order"],
            "s-",
            color=colour,
            label=rf"K={steps}: vs $g - \alpha\frac{{K-1}}{{2}} H g$",
        )
    shown = [curves for steps, curves in errors.items() if steps > 1]
    largest = int(np.argmax(alphas))
    for slope, key, style in ((1, "first_order", (0, (4, 3))), (2, "second_order", (0, (1, 2)))):
        start = min(c[key][largest] for c in shown) / 3  # a guide just below the curves
        ax.plot(
            alphas,
            start * (alphas / alphas[largest]) ** slope,
            color="grey",
            ls=style,
            lw=1.2,
            label=f"slope {slope}",
        )
    _label_inner_lrs(ax, alphas)
    ax.set(yscale="log", ylabel="relative error of the prediction")
    ax.set_title(
        r"Reptile's direction $(\theta - \theta^{(K)})/(K\alpha)$ against its Taylor series", fontsize=10
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7.5)
    fig.tight_layout()
    return fig


def plot_training_curves(
    curves: Mapping[str, Sequence[float]], *, ylabel: str, title: str, ax: Axes | None = None
) -> Axes:
    """Training curves that should coincide (a loop written by hand and the engine): the first solid and
    wide, the others dashed on top, so agreement shows as one line and a gap as two."""
    ax = ax or plt.subplots(figsize=(6.5, 4))[1]
    for i, (name, values) in enumerate(curves.items()):
        style = {"lw": 4, "alpha": 0.45} if i == 0 else {"lw": 1.5, "ls": "--"}
        ax.plot(range(len(values)), values, color=TASK_COLOURS[i % len(TASK_COLOURS)], label=name, **style)
    ax.set(xlabel="outer step", ylabel=ylabel, title=title, yscale="log")
    ax.legend()
    return ax
