# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · The MAML meta-gradient, derived and checked
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xlmeta-lab/xlmeta-lab/blob/main/notebooks/01_maml_derivation.ipynb)
#
# MAML (Finn, Abbeel and Levine, 2017) learns an **initialisation** $\theta_0$ from which a few gradient
# steps on a small **support** set give a good model for a new task. In this workbook a task is a
# language: English and Spanish train $\theta_0$, and French is adapted from a handful of sentences.
# Every later notebook rests on one formula, the **meta-gradient**.
#
# **Learning objectives.** You will be able to
# 1. write down MAML's objective and see adaptation as a *map* $\theta_0 \mapsto \theta_i^*$ (a picture on 2-D tasks);
# 2. derive the meta-gradient with the chain rule, for one and for several inner steps, and compute it yourself
#    with autograd (exercises 1 and 2);
# 3. check it three independent ways (explicit Hessian, Hessian-vector products, autograd through the inner step,
#    which is what the engine does), down to round-off;
# 4. say what **first-order MAML** gives up as the inner learning rate grows, and write it (exercise 3);
# 5. say what **Reptile** computes, and write its direction (exercise 4);
# 6. write the seed's MAML training loop by hand in ~30 lines of PyTorch and get the engine's training curve
#    (exercise 5).
#
# **Prerequisites**: gradients and the chain rule; PyTorch tensors and `torch.autograd.grad`. No data to download.
#
# **Run time** (wall time with papermill, recorded in `xlmeta_lab/reference/timings.json` by `xlmeta workbook --time`;
# machines in the README): `quick` 15 s on CPU; `full` 35 s on CPU; not measured on a GPU. `PROFILE = "auto"` runs the
# largest profile measured on your kind of hardware to finish within 10 min and prints its estimate; it never starts
# `full` (set `PROFILE = "full"` for that).
#
# **Exercises**: cells tagged `exercise` hold the solutions between `# BEGIN SOLUTION` and `# END SOLUTION`;
# `xlmeta workbook --student DIR` writes copies where they are yours to write. The cell after each one
# checks your function and says what is wrong if it is (a missing Hessian term, a flipped sign, a mean where
# the formula sums). **Predict, then run** prompts ask you to commit to an answer before the next cell shows it.
#
# The computations live in `xlmeta_lab/teaching/derivation.py`; open it beside this notebook: each formula
# below has a function there of about the same length.

# %%
# On Colab, install the workbook's package (nothing happens when you run locally).
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "xlmeta-lab @ git+https://github.com/xlmeta-lab/xlmeta-lab",
        ],
        check=True,
    )

# %% tags=["parameters"]
PROFILE = "auto"  # "quick", "full", or "auto": full on a GPU, quick on a CPU
SEED = 0
DEVICE = "auto"

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from xlmeta_lab.data.sine import sine_tasks
from xlmeta_lab.meta import meta_gradient
from xlmeta_lab.meta.params import call_model
from xlmeta_lab.teaching import derivation as d
from xlmeta_lab.teaching import quadratic as q
from xlmeta_lab.teaching.exercises import check, exercises_done, hint  # noqa: F401 (hint: yours to call)
from xlmeta_lab.teaching.exercises.derivation import engine_outer_step, one_step_meta_loss
from xlmeta_lab.teaching.notebook import report_key_result, start_notebook
from xlmeta_lab.teaching.plots.derivation import (
    plot_adaptation_map,
    plot_first_order_error,
    plot_reptile_taylor,
    plot_training_curves,
)

PROFILE, settings, device = start_notebook("01_maml_derivation", PROFILE, SEED, DEVICE)
# The models here are tiny and the checks compare numbers down to round-off, so everything runs in
# float64 on the CPU whatever DEVICE says; the later notebooks put `device` to use.
SEEDS = [SEED + i for i in range(settings["n_seeds"])]
started = time.perf_counter()

# %% [markdown]
# ## 1 · The meta-objective
#
# | symbol | in code | meaning |
# | --- | --- | --- |
# | $i = 1..T$ | `tasks` (a meta-batch) | tasks, e.g. episodes drawn from one language each |
# | $L_{S_i}$, $L_{Q_i}$ | `support`, `query` | the loss of task $i$ on its support set and on its held-out query set |
# | $\alpha$, $K$ | `inner_lr`, `inner_steps` | the step size and number of steps of adaptation |
# | $\theta_0$ | the model's parameters | the initialisation being meta-learned |
#
# Adaptation is one (for now) gradient step on the support set, and the meta-objective scores the adapted
# parameters on the query set:
#
# $$
# \theta_i^*(\theta_0) = \theta_0 - \alpha \nabla L_{S_i}(\theta_0),
# \qquad
# \mathcal{L}(\theta_0) = \frac{1}{T} \sum_{i=1}^{T} L_{Q_i}\big(\theta_i^*(\theta_0)\big).
# $$
#
# Two things make this different from ordinary multi-task training:
#
# * $\theta_0$ is never scored itself; only the points it is **mapped** to are. A good $\theta_0$ can have
#   a high loss on every task, as long as one step takes it somewhere good for each.
# * The step uses the support set and the score uses the query set, so the objective rewards adaptation
#   that *generalises* within a task, not adaptation that memorises the support sentences.
#
# (The paper writes $\sum_i$; we and the engine use the mean $\frac1T\sum_i$, the same direction with a size
# that does not grow with the meta-batch.)

# %% [markdown]
# ## 2 · Adaptation is a map: a picture in two dimensions
#
# Take quadratic tasks, $L_i(\theta) = \tfrac12 (\theta - c_i)^\top A_i (\theta - c_i)$, with support and
# query losses equal. Then $\nabla L_i(\theta) = A_i(\theta - c_i)$, $H_i = A_i$, and the inner step has a
# closed form:
#
# $$
# \theta_i^* = \theta_0 - \alpha A_i (\theta_0 - c_i)
# \quad\Longleftrightarrow\quad
# \theta_i^* - c_i = (I - \alpha A_i)(\theta_0 - c_i).
# $$
#
# One step shrinks the distance to the task's optimum $c_i$ by the factor $I - \alpha A_i$: a lot along
# steep directions of the bowl, little along flat ones. Substituting, the meta-objective is a quadratic too,
#
# $$
# \mathcal{L}(\theta_0) = \frac1T \sum_i \tfrac12 (\theta_0 - c_i)^\top \underbrace{(I - \alpha A_i) A_i (I - \alpha A_i)}_{\text{what is left after the step}} (\theta_0 - c_i),
# $$
#
# so its minimiser has a closed form (`quadratic_maml_optimum`). With $\alpha = 0$ it is the joint-training
# optimum $(\sum_i A_i)^{-1}\sum_i A_i c_i$. Below, each colour is one task: its loss contours, its optimum
# (×) and the path from $\theta_0$ (★) to its adapted $\theta_i^*$ (●), one arrow per inner step. The top row
# adapts with one step, the bottom row with three; the left column starts from the joint-training optimum,
# the right column from MAML's.
#
# **Predict, then run.** Before adaptation (at ★), is the mean query loss of MAML's $\theta_0$ lower or higher
# than that of the joint-training optimum? And after one step? Write your guess down; the panel titles answer.

# %%
quadratic_tasks = q.random_quadratic_tasks(settings["quadratic_tasks"], seed=SEED)
quad_lr = settings["quadratic_inner_lr"]
panels = [(name, steps) for steps in (1, 3) for name in ("joint training", "MAML")]
starts = {
    (name, steps): q.quadratic_maml_optimum(
        quadratic_tasks, inner_lr=quad_lr if name == "MAML" else 0.0, inner_steps=steps
    )
    for name, steps in panels
}
corners = torch.stack([t.support.centre for t in quadratic_tasks] + list(starts.values())).numpy()
low, high = corners.min(0) - 1.2, corners.max(0) + 1.2
limits = (low[0], high[0], low[1], high[1])

fig, axes = plt.subplots(2, 2, figsize=(11, 10.5))
for ax, (name, steps) in zip(axes.flat, panels):
    theta0 = starts[name, steps]
    before = torch.stack([t.query(theta0) for t in quadratic_tasks]).mean()
    after = torch.stack([t.query(t.adapt(theta0, quad_lr, steps)) for t in quadratic_tasks]).mean()
    title = f"θ0 = {name} optimum, K = {steps} inner step(s)\nmean query loss {before:.2f} before adaptation, {after:.3f} after"
    plot_adaptation_map(
        quadratic_tasks,
        theta0,
        inner_lr=quad_lr,
        inner_steps=steps,
        ax=ax,
        title=title,
        limits=limits,
        legend=ax is axes[0, 0],
    )
fig.suptitle(f"Adaptation maps θ0 to each task's θi* (inner_lr = {quad_lr})", y=0.995)
fig.tight_layout()
plt.show()

# %% [markdown]
# Read each row left to right. Joint training puts $\theta_0$ where the *unadapted* loss is lowest, roughly
# among the centres; MAML moves it to where the arrow *tips* land low. It no longer needs $\theta_0$ close to a
# task along that task's steep direction, which the inner step fixes by itself, only along its flat one: the
# weighting $(I - \alpha A_i)A_i(I - \alpha A_i)$ above. With $K$ steps the factor is $(I - \alpha A_i)^K$, the steps
# fix more, and the best $\theta_0$ moves away from the middle of the centres (bottom row), to a place from
# which every arrow is long. The titles show the trade, and it holds by construction: each optimum is best for its own
# criterion, so MAML's initialisation is worse *before* adaptation and better *after* it.
#
# The meta-gradient is the derivative of this map, composed with the query loss. That is the next section.

# %% [markdown]
# ## 3 · The chain rule
#
# Differentiate $L_{Q_i}(\theta_i^*(\theta_0))$ with respect to $\theta_0$. The Jacobian of the inner step is
#
# $$
# \frac{\partial \theta_i^*}{\partial \theta_0} = I - \alpha \nabla^2 L_{S_i}(\theta_0) = I - \alpha H_i,
# $$
#
# and the chain rule multiplies its transpose into the outer gradient:
#
# $$
# \boxed{\;\nabla \mathcal{L}(\theta_0) = \frac1T \sum_{i=1}^T \big(I - \alpha H_i\big)\, \nabla L_{Q_i}(\theta_i^*)\;}
# \qquad H_i = \nabla^2 L_{S_i}(\theta_0).
# $$
#
# Three places where it is easy to go wrong:
#
# * $H_i$ is the Hessian of the **support** loss, taken at $\theta_0$: it comes from differentiating the
#   inner step, and the inner step only ever sees the support set at the point where it was taken.
# * The gradient on the right is of the **query** loss, taken at the **adapted** $\theta_i^*$, not at $\theta_0$.
# * The transpose disappears only because a Hessian is symmetric. With a learned per-parameter rate
#   (Meta-SGD, `LearnedInnerRates`) the factor becomes $I - H_i\,\mathrm{diag}(\alpha)$, and order matters.
#
# **Several inner steps.** With $\theta_i^{(0)} = \theta_0$ and
# $\theta_i^{(k+1)} = \theta_i^{(k)} - \alpha \nabla L_{S_i}(\theta_i^{(k)})$ for $k = 0..K-1$, each step
# contributes its own factor, with the support Hessian taken where *that* step started:
#
# $$
# \nabla_{\theta_0} L_{Q_i}\big(\theta_i^{(K)}\big) = \big(I - \alpha H_i^{(0)}\big)\big(I - \alpha H_i^{(1)}\big)\cdots\big(I - \alpha H_i^{(K-1)}\big)\, \nabla L_{Q_i}\big(\theta_i^{(K)}\big),
# \qquad H_i^{(k)} = \nabla^2 L_{S_i}\big(\theta_i^{(k)}\big).
# $$
#
# The factors do not commute. Applied to the vector right to left, the last step's factor acts first:
# that is the order in which reverse-mode autograd walks back through the inner loop.
#
# **ANIL** adapts only some coordinates (the head): with $P$ the diagonal 0/1 mask of adapted coordinates,
# the step is $\theta - \alpha P \nabla L_S$ and each factor becomes $I - \alpha H^{(k)} P$. It is the same formula.
#
# **Three ways to compute it**, for $P$ parameters:
#
# | way | how $H_i$ enters | memory | here |
# | --- | --- | --- | --- |
# | explicit Hessian | form the $P \times P$ matrix, multiply | $O(P^2)$: tiny models only | `d.maml_gradient_explicit` |
# | Hessian-vector products | $H v = \nabla_\theta (\nabla L_S \cdot v)$, never forming $H$ | $O(P)$, ~2 extra backward passes per factor | `d.maml_gradient_hvp` |
# | autograd through the inner step | keep the inner gradient's graph (`create_graph=True`) and backpropagate | $O(P)$ plus the inner loop's activations | `meta_gradient(method="maml")` (the engine) |
#
# The engine never writes $H$ down: backpropagating through $\theta - \alpha \nabla L_S(\theta)$ computes the
# Hessian-vector products implicitly. The first two are *oracles*: they share no code with the engine's
# backward pass, so agreement is evidence, not tautology.

# %% [markdown]
# ### Exercise 1 · The one-step meta-gradient, with autograd
#
# Write the meta-gradient of **one** task after **one** inner step, on a flat parameter vector `theta`.
# `task.support(theta)` and `task.query(theta)` are the task's losses (scalars). Take the support gradient so
# that autograd can differentiate *through* it (`create_graph=True`), take the step, and differentiate the
# query loss at the adapted point with respect to `theta`. The check compares with the explicit-Hessian formula
# above on two small networks, and recognises the usual slips (no Hessian term, query gradient at $\theta_0$,
# the step taken uphill).

# %% tags=["exercise"]
def one_step_meta_gradient(theta, task, inner_lr):
    """(I - inner_lr * H_S) grad L_Q(theta - inner_lr * grad L_S(theta)), for one task."""
    # BEGIN SOLUTION (exercise 01.1)
    theta = theta.detach().requires_grad_(True)
    (support_grad,) = torch.autograd.grad(task.support(theta), theta, create_graph=True)
    adapted = theta - inner_lr * support_grad
    (meta_grad,) = torch.autograd.grad(task.query(adapted), theta)
    return meta_grad
    # END SOLUTION


# %%
one_step_meta_gradient = check("01.1", one_step_meta_gradient)

# %% [markdown]
# ### Exercise 2 · A Hessian-vector product, without the Hessian
#
# The engine never forms $H$; backpropagating through the inner step computes products $H v$. Write one
# yourself: $Hv = \nabla_\theta\,(\nabla L(\theta) \cdot v)$, the gradient of a scalar, so two calls to
# `torch.autograd.grad` (the first with `create_graph=True`). The check compares with `d.loss_hessian(loss, theta) @ v`.

# %% tags=["exercise"]
def hessian_vector_product(loss, theta, vector):
    """H(theta) @ vector, by differentiating grad L(theta) . vector once more."""
    # BEGIN SOLUTION (exercise 01.2)
    theta = theta.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(theta), theta, create_graph=True)
    (hvp,) = torch.autograd.grad(grad @ vector, theta)
    return hvp
    # END SOLUTION


# %%
hessian_vector_product = check("01.2", hessian_vector_product)

# %% [markdown]
# ## 4 · Checking it: three ways, to round-off
#
# **On quadratics** there is a fourth way, the closed form: the inner loop is linear,
# $\theta_i^{(K)} - c_{S_i} = M_i(\theta_0 - c_{S_i})$ with $M_i = (I - \alpha A_{S_i})^K$, so
# $\nabla\mathcal L = \frac1T\sum_i M_i^\top A_{Q_i}(\theta_i^{(K)} - c_{Q_i})$. We give the query its own
# centre and curvature here (`query_shift`), so a formula that mixed up $H_S$ and $H_Q$ would fail.

# %%
shifted_tasks = q.random_quadratic_tasks(settings["quadratic_tasks"], seed=SEED, query_shift=1.0)
point = q.QuadraticPoint(torch.tensor([0.5, -0.3], dtype=torch.float64))
theta = point.theta.detach()
flat_tasks = [t.losses() for t in shifted_tasks]
engine_tasks = [t.engine_task() for t in shifted_tasks]
print(f"{'inner_steps':>11} | {'closed vs explicit':>18} | {'closed vs HVP':>13} | {'closed vs engine':>16}")
quadratic_worst = 0.0
for steps in settings["check_inner_steps"]:
    kwargs = {"inner_lr": quad_lr, "inner_steps": steps}
    closed = q.quadratic_meta_gradient(theta, shifted_tasks, **kwargs)
    others = [
        d.maml_gradient_explicit(theta, flat_tasks, **kwargs),
        d.maml_gradient_hvp(theta, flat_tasks, **kwargs),
        meta_gradient(point, q.quadratic_loss, engine_tasks, method="maml", **kwargs)["theta"],
    ]
    diffs = [float((closed - other).abs().max()) for other in others]
    quadratic_worst = max(quadratic_worst, *diffs)
    print(f"{steps:>11} | {diffs[0]:>18.1e} | {diffs[1]:>13.1e} | {diffs[2]:>16.1e}")
assert quadratic_worst < 1e-10, quadratic_worst

# %% [markdown]
# **On small networks** the Hessian changes from point to point, so the multi-step product is really tested.
# The model is a tanh MLP (smooth, so $H$ is far from zero) with the sine-regression tasks of Finn et al.:
# $y = a \sin(x + \varphi)$ with a random amplitude and phase per task, 5 support and 10 query points. The
# check runs in **float64**: round-off is then ~1e-16, so any real discrepancy stands out by many orders of
# magnitude (in float32, round-off ~1e-7 could hide a small wrong term).
#
# The table shows, for each number of inner steps $K$ and each engine path (a loop over tasks, one `vmap`ed call,
# and ANIL adapting only the head), the largest difference over all seeds. The last column, `hessian_term`
# (smallest over seeds), is the largest entry of the part first-order MAML drops,
# $\frac{\alpha}{T}\sum_i H_i \nabla L_{Q_i}$ (and its multi-step analogue): a check is only convincing if the
# differences are far below it.

# %%
inner_lr = settings["check_inner_lr"]
columns = ["explicit_vs_hvp", "explicit_vs_engine", "hvp_vs_engine", "hessian_term"]
paths = {"MAML, loop": (None, False), "MAML, vmap": (None, True), "ANIL, loop": ("head", False)}
worst = {}  # (inner_steps, path) -> largest difference over seeds; smallest Hessian term over seeds
for seed in SEEDS:
    model, tasks = d.sine_problem(seed, hidden=settings["hidden"], n_tasks=settings["n_tasks"])
    for steps in settings["check_inner_steps"]:
        for path, (adapt, batched) in paths.items():
            row = d.compare_three_ways(
                model, d.mse, tasks, inner_lr=inner_lr, inner_steps=steps, adapt=adapt, batched=batched
            )
            old = worst.get((steps, path), {c: 0.0 for c in columns[:3]} | {"hessian_term": np.inf})
            worst[steps, path] = {c: max(old[c], row[c]) for c in columns[:3]} | {
                "hessian_term": min(old["hessian_term"], row["hessian_term"])
            }

print(
    f"max |difference| over {len(SEEDS)} seeds (float64, inner_lr={inner_lr}, {settings['n_tasks']} tasks, {sum(p.numel() for p in model.parameters())} parameters)"
)
print(f"{'K':>2} {'path':>10} | " + " | ".join(f"{c:>18}" for c in columns))
for (steps, path), row in worst.items():
    print(f"{steps:>2} {path:>10} | " + " | ".join(f"{row[c]:>18.1e}" for c in columns))
max_diff = max(max(row[c] for c in columns[:3]) for row in worst.values())
smallest_term = min(row["hessian_term"] for row in worst.values())
print(
    f"\nlargest difference between the three ways: {max_diff:.1e}   smallest Hessian term: {smallest_term:.1e}"
)
assert max_diff < 1e-6, f"the meta-gradients disagree: {max_diff:.2e}"
assert smallest_term > 1e3 * max_diff, "the Hessian term is too small for this check to mean anything"

# %% [markdown]
# All three agree to round-off (~1e-16) for one and several inner steps, for the loop and the `vmap`
# (`batched=True`) paths of the engine, and for ANIL (`adapt="head"`), while the Hessian term they all
# include is many orders of magnitude larger. The cell fails loudly (`assert max_diff < 1e-6`) if a
# change to the engine ever breaks this; `tests/test_derivation.py` checks the same in CI.

# %% [markdown]
# ## 5 · The first-order approximation, and what it costs
#
# First-order MAML (FOMAML) treats the inner gradient as a constant, which deletes every $\alpha H$ factor:
#
# $$
# \nabla \mathcal{L}(\theta_0) \approx g_{FO} = \frac1T \sum_i \nabla L_{Q_i}(\theta_i^*),
# \qquad
# g_{MAML} - g_{FO} = -\frac{\alpha}{T} \sum_i H_i \nabla L_{Q_i}(\theta_i^*) \quad\text{(one step, exactly).}
# $$
#
# It saves the second backward pass and the memory of the inner loop's graph, the difference between a
# model that fits in GPU memory and one that does not. The error is proportional to $\alpha$ times the
# curvature, so the natural unit for $\alpha$ is $1/\lVert H_S \rVert_2$. At $\alpha = 0$ the two are
# equal (and both are just the query gradient at $\theta_0$).

# %% [markdown]
# ### Exercise 3 · The first-order meta-gradient
#
# Write FOMAML's gradient for one task: the same inner step as in exercise 1, but treated as a constant, so the
# gradient is the query gradient *at the adapted point*. (Which line of exercise 1 changes, and which goes?)

# %% tags=["exercise"]
def first_order_meta_gradient(theta, task, inner_lr):
    """grad L_Q at theta - inner_lr * grad L_S(theta), with the inner step held constant."""
    # BEGIN SOLUTION (exercise 01.3)
    theta = theta.detach().requires_grad_(True)
    (support_grad,) = torch.autograd.grad(task.support(theta), theta)
    adapted = (theta - inner_lr * support_grad).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(task.query(adapted), adapted)
    return grad
    # END SOLUTION


# %%
first_order_meta_gradient = check("01.3", first_order_meta_gradient)

# %% [markdown]
# **Predict, then run.** The dropped term is $\frac{\alpha}{T}\sum_i H_i\nabla L_{Q_i}$. When $\alpha$ grows
# tenfold, by about how much does FOMAML's *relative* error grow, while $\alpha\lVert H_S\rVert$ stays small?
# And what happens to the cosine between the two directions? The table and plot below answer.

# %%
fo_lrs = settings["fo_inner_lrs"]
curves, norms = [], []
for seed in SEEDS:
    model, tasks = d.sine_problem(seed, hidden=settings["hidden"], n_tasks=settings["n_tasks"])
    curves.append(d.first_order_error_curve(model, d.mse, tasks, inner_lrs=fo_lrs))
    norms += d.support_hessian_norm(model, d.mse, tasks)
relative_errors = np.array([c["relative_error"] for c in curves])
cosines = np.array([c["cosine"] for c in curves])
hessian_norm = float(np.median(norms))
print(f"|H_S|_2 over tasks and seeds: median {hessian_norm:.1f}, range {min(norms):.1f} to {max(norms):.1f}")
print(f"{'inner_lr':>9} {'alpha*|H_S|':>11} {'median rel. error':>18} {'median cosine':>14}")
for j, alpha in enumerate(fo_lrs):
    print(
        f"{alpha:>9g} {alpha * hessian_norm:>11.2f} {np.median(relative_errors[:, j]):>18.3f} {np.median(cosines[:, j]):>14.3f}"
    )
fig = plot_first_order_error(fo_lrs, relative_errors, cosines, hessian_norm=hessian_norm)
plt.show()

# %% [markdown]
# For small $\alpha$ the relative error grows like $\alpha$ (slope 1 on the log-log plot), as the formula
# says, and the direction barely changes (cosine near 1). Approaching $\alpha \approx 1/\lVert H_S\rVert_2$ the
# dropped term becomes comparable to the meta-gradient itself and the cosine falls: the first-order
# direction is then a different direction, not a slightly noisy version of the right one. The spread over seeds is wide, because $\lVert H_S\rVert_2$ varies several-fold
# between initialisations.
#
# This measures the *gradient*, not the *result of training*. Finn et al. found FOMAML nearly as good as
# MAML on image classification, and whether the same holds for our languages is an experiment
# (notebooks 02 and 03 train all three), not something this plot can settle.

# %% [markdown]
# ## 6 · Reptile
#
# Reptile (Nichol, Achiam and Schulman, 2018) needs neither Hessians nor a query gradient. Each task runs
# $K$ steps of SGD on all its data (the engine: the mean of its support and query losses, $L_i$ below),
# and the initialisation moves towards where SGD ended:
#
# $$
# \Delta_{\text{Reptile}} = \frac1T \sum_i \big(\theta_0 - \theta_i^{(K)}\big), \qquad \theta_0 \leftarrow \theta_0 - \beta\,\Delta_{\text{Reptile}}.
# $$
#
# **One step is no meta-learning at all.** With $K = 1$, $\theta_0 - \theta_i^{(1)} = \alpha \nabla L_i(\theta_0)$
# exactly: Reptile is then plain joint training on the average loss. There are no higher-order terms to find.
#
# **From two steps on** a curvature term appears. Expanding each step around $\theta_0$, with
# $g = \nabla L_i(\theta_0)$ and $H = \nabla^2 L_i(\theta_0)$:
#
# $$
# \frac{\theta_0 - \theta_i^{(K)}}{K\alpha} = g - \alpha\,\frac{K-1}{2}\, H g + O(\alpha^2)
# = \nabla\Big[L_i - \alpha\,\frac{K-1}{4}\,\lVert \nabla L_i \rVert^2\Big] + O(\alpha^2),
# $$
#
# using $H g = \tfrac12 \nabla \lVert g\rVert^2$. Compare one-step MAML with the same loss as support and query:
# $(I - \alpha H)\nabla L(\theta_0 - \alpha g) = g - 2\alpha H g + O(\alpha^2) = \nabla\big[L - \alpha\lVert\nabla L\rVert^2\big] + O(\alpha^2)$.
# To this order both descend the loss *minus a multiple of the squared gradient norm*: both prefer
# initialisations from which a gradient step makes much progress, with different weights on that preference.
# (When the steps use different mini-batches, as in Nichol et al., $\lVert g\rVert^2$ becomes the inner product of the
# batches' gradients, so both also reward gradients that agree across a task's data; MAML's support/query
# split gives $g_S \cdot g_Q$ the same way.)
#
# A Taylor series is a claim about *rates*: if it is right, the error of the first-order prediction $g$
# shrinks like $\alpha$ and the error of the second-order one like $\alpha^2$. We check exactly that.
#
# **Predict, then run.** With $K = 1$, how far is Reptile's direction from one gradient step: about
# $\alpha$, about $\alpha^2$, or round-off? And for $K = 3$, what slopes should the two error curves have on
# a log-log plot?

# %%
reptile_lrs = settings["reptile_inner_lrs"]
taylor = {steps: {"first_order": [], "second_order": []} for steps in settings["reptile_inner_steps"]}
for seed in SEEDS:
    model, tasks = d.sine_problem(seed, hidden=settings["hidden"], n_tasks=1)
    theta, _, (task,) = d.task_losses(model, d.mse, tasks)
    for steps in taylor:
        errors = d.reptile_taylor_errors(
            theta, d.support_and_query(task), inner_lrs=reptile_lrs, inner_steps=steps
        )
        for key in errors:
            taylor[steps][key].append(errors[key])
median = {
    steps: {k: np.median(v, 0).tolist() for k, v in curves_k.items()} for steps, curves_k in taylor.items()
}

print(
    f"K = 1, largest relative error of 'Reptile = one gradient step' over seeds and inner_lrs: {np.max(taylor[1]['first_order']):.1e}"
)
print(
    f"{'K':>2} {'rate of first-order error':>26} {'rate of second-order error':>27}   (log-log slope over the smallest inner_lrs)"
)
slopes = {}
for steps, curves_k in median.items():
    if steps == 1:
        continue
    slopes[steps] = [
        float(np.polyfit(np.log(reptile_lrs[:3]), np.log(curves_k[k][:3]), 1)[0])
        for k in ("first_order", "second_order")
    ]
    print(f"{steps:>2} {slopes[steps][0]:>26.2f} {slopes[steps][1]:>27.2f}")
assert np.max(taylor[1]["first_order"]) < 1e-10
assert all(abs(s1 - 1) < 0.2 and abs(s2 - 2) < 0.3 for s1, s2 in slopes.values()), slopes
fig = plot_reptile_taylor(reptile_lrs, median)
plt.show()

# %% [markdown]
# With $K = 1$ Reptile equals one gradient step to round-off. For $K \ge 2$ the first-order prediction's error
# falls with slope 1 and the second-order one's with slope 2 (medians over seeds): the expansion is right, and
# the curvature term is really there. At the largest $\alpha$ the curves bend as higher-order terms take over.
#
# ### Exercise 4 · Reptile's direction
#
# Write $\theta_0 - \theta^{(K)}$: run `inner_steps` plain SGD steps on `loss` from `theta` (no graph is
# needed: Reptile differentiates nothing through the steps), and return how far it moved. The engine's Reptile
# is the mean of this over tasks, with the mean of support and query losses as `loss`.

# %% tags=["exercise"]
def reptile_direction(theta, loss, inner_lr, inner_steps):
    """theta - theta^(K), after inner_steps steps of SGD on loss."""
    # BEGIN SOLUTION (exercise 01.4)
    point = theta.detach()
    for _ in range(inner_steps):
        point = point.requires_grad_(True)
        (grad,) = torch.autograd.grad(loss(point), point)
        point = (point - inner_lr * grad).detach()
    return theta.detach() - point
    # END SOLUTION


# %%
reptile_direction = check("01.4", reptile_direction)

# %% [markdown]
# Finally, the engine's Reptile (`meta_gradient(method="reptile")`) returns the same $\Delta$ as the oracle:

# %%
model, tasks = d.sine_problem(SEED, hidden=settings["hidden"], n_tasks=settings["n_tasks"])
theta, layout, flat_tasks = d.task_losses(model, d.mse, tasks)
for steps in settings["reptile_inner_steps"]:
    engine = d.flatten_grads(
        meta_gradient(model, d.mse, tasks, method="reptile", inner_lr=0.01, inner_steps=steps), layout
    )
    oracle = d.reptile_update(theta, flat_tasks, inner_lr=0.01, inner_steps=steps)
    print(f"K={steps}: max |engine - oracle| = {float((engine - oracle).abs().max()):.1e}")
    assert torch.allclose(engine, oracle, rtol=0, atol=1e-10)

# %% [markdown]
# ## 7 · The MAML loop, by hand
#
# Everything so far computed one meta-gradient. Training is that gradient inside a loop, and the seed states
# the loop in two lines: for each task $i$ of a meta-batch, an **inner step**
# $\theta_i = \theta_0 - \alpha \nabla L_i(\theta_0)$; then one **outer step**
# $\theta_0 \leftarrow \theta_0 - \beta \sum_i \nabla_{\theta_0} L_i(\theta_i)$.
#
# ### Exercise 5 · Write it
#
# Write one outer step on a meta-batch of sine tasks, in plain PyTorch. `params` is a dict of tensors (the
# network's weights, with `requires_grad`), `call_model(model, params, x)` runs the network with them
# (`torch.func.functional_call`), `d.mse` is the loss, and each task is `((x_support, y_support), (x_query,
# y_query))`: the support set is the $D_i$ of the inner step, the query set scores the adapted $\theta_i$.
# Return the new parameters (a dict with the same names). Sum over tasks, as the seed does; the check compares
# with the engine's `meta_gradient` (which takes the mean, so times $T$).

# %% tags=["exercise"]
def maml_outer_step(model, params, tasks, inner_lr, outer_lr):
    """theta0 <- theta0 - outer_lr * sum_i grad_theta0 L_i(theta0 - inner_lr * grad L_i(theta0))."""
    # BEGIN SOLUTION (exercise 01.5)
    meta_grads = {name: torch.zeros_like(p) for name, p in params.items()}
    for (x_support, y_support), (x_query, y_query) in tasks:
        # inner step: theta_i = theta0 - alpha * grad L_i(theta0), keeping the graph for the outer gradient
        support_loss = d.mse(call_model(model, params, x_support), y_support)
        grads = torch.autograd.grad(support_loss, list(params.values()), create_graph=True)
        adapted = {name: p - inner_lr * g for (name, p), g in zip(params.items(), grads)}
        # this task's outer gradient: grad_theta0 L_i(theta_i), through the inner step
        query_loss = d.mse(call_model(model, adapted, x_query), y_query)
        for name, g in zip(params, torch.autograd.grad(query_loss, list(params.values()))):
            meta_grads[name] += g
    # outer step: theta0 <- theta0 - beta * sum_i grad_theta0 L_i(theta_i)
    return {name: (p - outer_lr * meta_grads[name]).detach().requires_grad_(True) for name, p in params.items()}
    # END SOLUTION


# %%
maml_outer_step = check("01.5", maml_outer_step)

# %% [markdown]
# **Predict, then run.** Train from the same start, on the same stream of tasks, once with your loop and once
# with the engine (`meta_gradient`, times $T$). How far apart will the two training curves be after a few dozen
# steps: visibly, about 1e-3, or round-off? The curve is the meta-objective on 32 held-out tasks.

# %%
inner_lr, outer_lr = settings["by_hand_inner_lr"], settings["by_hand_outer_lr"]
model = d.tiny_mlp(settings["hidden"], seed=SEED)
held_out = sine_tasks(32, seed=SEED + 777)
stream = {"by hand": torch.Generator().manual_seed(SEED), "engine": torch.Generator().manual_seed(SEED)}
params = {name: {n: p.detach().clone().requires_grad_(True) for n, p in model.named_parameters()} for name in stream}
curves = {name: [one_step_meta_loss(model, params[name], held_out, inner_lr=inner_lr)] for name in stream}
for _ in range(settings["by_hand_outer_steps"]):
    for name, step in (("by hand", maml_outer_step), ("engine", engine_outer_step)):
        tasks = sine_tasks(settings["by_hand_meta_batch"], generator=stream[name])
        params[name] = step(model, params[name], tasks, inner_lr, outer_lr)
        curves[name].append(one_step_meta_loss(model, params[name], held_out, inner_lr=inner_lr))
gap = max(abs(a - b) for a, b in zip(*curves.values()))
print(f"meta-objective on held-out tasks: {curves['engine'][0]:.3f} -> {curves['engine'][-1]:.3f} "
      f"after {settings['by_hand_outer_steps']} outer steps; largest gap between the two curves: {gap:.1e}")
assert gap < 1e-8, gap
plot_training_curves(curves, ylabel="meta-objective, held-out sine tasks", title="MAML by hand and by the engine")
plt.show()

# %% [markdown]
# The two curves lie on top of each other, to round-off: your thirty lines *are* the algorithm. What the engine
# adds is not a different method but the machinery to run it at scale: one `vmap`ed call over the tasks
# instead of a Python loop, several inner steps, first-order and ANIL variants, checkpoints.
#
# **How the later notebooks differ from the seed's loop, and why.**
#
# | the seed | this workbook | why |
# | --- | --- | --- |
# | $D_i$, one data set per task | a **support** set (the inner step) and a **query** set (the score) per episode | scoring on the data the step used would reward memorising the support set |
# | $\beta$, plain SGD | Adam with learning rate `outer_lr` | meta-gradients of real models vary in scale by orders of magnitude between layers; Adam's per-parameter scaling copes |
# | $\sum_i$ | mean over the meta-batch, $\frac1T\sum_i$ | the step size then does not change with the meta-batch size |
# | one inner step | `inner_steps` (1 in notebooks 02-03, more as an option) | more steps adapt further, at the cost of memory and a longer product of $(I - \alpha H)$ factors |
# | $\alpha$ | `inner_lr` | the same |
# | test: the same inner step | up to 400 fine-tuning steps on the K French sentences, budget chosen on French dev | at test time only the result matters: more steps help, and every condition gets the same budget |
#
# The last row is a real difference: training optimises $\theta_0$ for what *one* step reaches, while the
# evaluation in notebook 03 fine-tunes for up to 400. The initialisation is then judged on a job it was not
# trained for exactly; notebook 03 comes back to this.

# %%
print(f"\nnotebook ran in {time.perf_counter() - started:.1f} s")
report_key_result(f"meta-gradient: three ways agree to {max_diff:.0e} (Hessian term {smallest_term:.0e})")

# %% [markdown]
# ## What to take away
#
# * MAML's objective scores the **adapted** parameters on **held-out** query data; $\theta_0$ is chosen for
#   where one or a few steps take it, not for its own loss. On quadratics it trades pre-adaptation loss for
#   post-adaptation loss, caring about each task only along directions the inner step cannot fix.
# * $\nabla\mathcal{L}(\theta_0) = \frac1T\sum_i (I - \alpha H_i)\nabla L_{Q_i}(\theta_i^*)$, with the **support**
#   Hessian at $\theta_0$ and the **query** gradient at $\theta_i^*$; $K$ steps multiply $K$ factors, each with the
#   Hessian where its step began. The engine's autograd, explicit Hessians and Hessian-vector products give the
#   same numbers to ~1e-16 in float64.
# * First-order MAML drops exactly $\frac{\alpha}{T}\sum_i H_i\nabla L_{Q_i}$. Its error grows like $\alpha\lVert H_S\rVert$:
#   small when $\alpha \ll 1/\lVert H_S\rVert$, a different direction beyond. Whether that hurts *training* is an
#   empirical question that notebooks 02 and 03 answer on languages.
# * Reptile with one step is joint training. With $K \ge 2$ it picks up a curvature term,
#   $-\alpha\frac{K-1}{2}Hg$, of the same kind MAML has to first order: both favour initialisations from which a
#   gradient step goes far.
# * The seed's training loop is about thirty lines: an inner step per task with `create_graph=True`, an outer
#   step on the sum of the tasks' gradients. The engine gives the same training curve to round-off; the later
#   notebooks change the optimiser (Adam), split each task into support and query, and fine-tune longer at test time.
#
# Next, notebook 02 meta-trains an initialisation on a family of synthetic languages and asks when it helps
# a new one.
#
# **References.** Finn, Abbeel, Levine (2017), *Model-Agnostic Meta-Learning*, arXiv:1703.03400 ·
# Nichol, Achiam, Schulman (2018), *On First-Order Meta-Learning Algorithms*, arXiv:1803.02999 ·
# Raghu et al. (2020), *Rapid Learning or Feature Reuse?* (ANIL), arXiv:1909.09157 ·
# Pearlmutter (1994), *Fast Exact Multiplication by the Hessian*, Neural Computation 6(1).

# %%
# Your progress: a check that has not run, or has failed, counts as not done (hint("01.1") and so on for help).
done, total = exercises_done("01")
