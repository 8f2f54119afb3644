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
# # 06 · The engine: batching tasks, speed, memory, GPUs and several processes
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xlmeta-lab/xlmeta-lab/blob/main/notebooks/06_engine.ipynb)
#
# Notebooks 01 to 05 used `xlmeta_lab.meta` as a black box that returns a meta-gradient. This one opens it: how a
# meta-batch of tasks becomes **one** `torch.func.vmap` call, what that buys against the loop you wrote in
# notebook 01, what compiling buys, what second order costs in memory, and how the same meta-gradient is
# computed by several processes that each take a share of the tasks (`torch.distributed`).
#
# **Learning objectives.** You will be able to
# 1. run a model on a batch of tasks with `functional_call` + `vmap`, and compute every task's inner gradient in
#    one call (exercise 1);
# 2. read the engine's speed against a plain loop as the meta-batch and the inner loop grow, and say why;
# 3. decide when `compile=True` pays for itself (exercise 2);
# 4. say what grows with inner steps and with tasks in memory, for MAML, first-order MAML and Reptile;
# 5. split a meta-batch over processes and combine their meta-gradients so the result equals one process's
#    (exercise 3), and run a two-process training.
#
# **Prerequisites**: notebook 01 (the meta-gradient, and the loop you wrote by hand); PyTorch modules. No data.
#
# **Run time** (wall time with papermill, recorded in `xlmeta_lab/reference/timings.json` by `xlmeta workbook --time`;
# machines in the README): `quick` 35 s on CPU; `full` not measured; not measured on a GPU. `PROFILE = "auto"` runs
# the largest profile measured on your kind of hardware to finish within 10 min and prints its estimate; it never
# starts `full` (set `PROFILE = "full"` for that).
#
# On a GPU the memory rows become CUDA allocator statistics.
#
# **Exercises**: cells tagged `exercise` hold the solutions between `# BEGIN SOLUTION` and `# END SOLUTION`;
# `xlmeta workbook --student DIR` writes copies where they are yours to write. **Predict, then run** prompts ask
# you to commit to an answer before the next cell shows it.

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
import json
import math
import os
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from torch.func import functional_call, grad, vmap

from xlmeta_lab.experiments.bench.memory import format_memory_table, memory_rows
from xlmeta_lab.experiments.bench.sweep import format_sweep, speed_sweep
from xlmeta_lab.experiments.training.checkpoints import load_checkpoint
from xlmeta_lab.teaching import derivation as d
from xlmeta_lab.teaching.exercises import check, exercises_done, hint  # noqa: F401 (hint: yours to call)
from xlmeta_lab.teaching.notebook import reference_dir, report_key_result, start_notebook
from xlmeta_lab.teaching.plots.engine import plot_memory, plot_speed_sweep
from xlmeta_lab.teaching.profiles import profile_settings

PROFILE, settings, device = start_notebook("06_engine", PROFILE, SEED, DEVICE)
started = time.perf_counter()

# %% [markdown]
# ## 1 · From a loop over tasks to one call
#
# A model's parameters are usually *inside* it. `torch.func.functional_call(model, params, x)` runs the model
# with parameters you pass in, a dict of tensors, which is what an inner step produces. Once the parameters are
# an argument, `vmap` can map a function over a new leading axis: here, the task axis. Four sine tasks, each
# with 5 support points, become one tensor of shape `(tasks, points, 1)`:

# %%
model, tasks = d.sine_problem(SEED, hidden=8, n_tasks=4)
params = {name: p.detach() for name, p in model.named_parameters()}
xs = torch.stack([support[0] for support, _ in tasks])
ys = torch.stack([support[1] for support, _ in tasks])
looped = torch.stack([functional_call(model, params, (x,)) for x in xs])
batched = vmap(functional_call, in_dims=(None, None, 0))(model, params, (xs,))
print(f"support inputs {tuple(xs.shape)} -> predictions {tuple(batched.shape)}")
print(f"loop and vmap agree to {float((looped - batched).abs().max()):.1e}")

# %% [markdown]
# `in_dims=(None, None, 0)` says: the model and the parameters are shared by every task (`None`), the inputs
# carry the task axis first (`0`). Inside, PyTorch runs each operation once on the whole batch instead of once per
# task. Gradients work the same way: `torch.func.grad(f)` is a function that returns the gradient of `f`, and a
# function can be `vmap`ed.
#
# ### Exercise 1 · Every task's support gradient in one call
#
# Write `per_task_support_grads(model, params, xs, ys)`: a dict with, for each parameter, a tensor of shape
# `(tasks, *parameter shape)` holding each task's support-loss gradient (`d.mse` is the loss). Write one task's
# loss as a function of `(params, x, y)`, take `grad` of it, and `vmap` that. The check compares with a loop.

# %% tags=["exercise"]
def per_task_support_grads(model, params, xs, ys):
    """Each task's gradient of its support loss, for every parameter, with one vmap'ed call."""
    # BEGIN SOLUTION (exercise 06.1)
    def support_loss(p, x, y):
        return d.mse(functional_call(model, p, (x,)), y)

    return vmap(grad(support_loss), in_dims=(None, 0, 0))(params, xs, ys)
    # END SOLUTION


# %%
per_task_support_grads = check("06.1", per_task_support_grads)
inner_grads = per_task_support_grads(model, params, xs, ys)
print({name: tuple(g.shape) for name, g in inner_grads.items()})

# %% [markdown]
# That is the engine's inner step for all tasks at once: `params - inner_lr * inner_grads` gives a *batch* of
# adapted parameter dicts, and the query loss is one more `vmap`ed `functional_call`. The engine
# (`xlmeta_lab/meta/maml.py`, `_meta_gradient_vmap`) does exactly this, and falls back to a loop, with the same
# numbers, when a model cannot run under `vmap` (LSTMs, data-dependent control flow, BatchNorm with running
# statistics).
#
# ## 2 · What batching buys
#
# **Predict, then run.** The engine and the loop you wrote in notebook 01 compute the same meta-gradient. On one
# CPU thread, is the engine faster for 5 tasks? For 100? And does the advantage grow or shrink with more inner
# steps per task?

# %%
sweep = speed_sweep(settings["speed_pairs"], repeats=settings["speed_repeats"])
print(format_sweep(sweep))
by_tasks = sorted((n, r.ratio) for n, r in sweep if r.inner_steps == 1)
(few, few_ratio), (many, many_ratio) = by_tasks[0], by_tasks[-1]
trend = "grows" if many_ratio > few_ratio else "does not grow"
print(f"in this run the engine's advantage {trend} with the meta-batch: {few_ratio:.1f}x at {few} tasks, "
      f"{many_ratio:.1f}x at {many}")
plot_speed_sweep(sweep)
plt.show()

# %% [markdown]
# The loop pays Python and kernel-launch overhead once per task and per operation; `vmap` pays it once per
# operation for the whole batch. So the ratio should grow with the number of tasks, while more inner steps add
# the same kind of work to both sides. The timings are interleaved (engine, loop, engine, ...) on one thread so
# that noise from a shared machine hits both alike; read the ratios, not the absolute steps per second, and the
# `+-` column for how much they wobble.
#
# ## 3 · Compiling
#
# `meta_gradient(..., compile=True)` runs the batched path through `torch.compile`, which fuses the many small
# operations of a small model into few kernels. The first call compiles (seconds to a minute); every later call
# is faster. Compiling on a cold cache is too slow for this notebook, so we read the committed benchmark
# (`xlmeta bench`, one thread, this project's 2-core machine):

# %%
bench = json.loads((reference_dir() / "bench-cpu-1thread.json").read_text())
compiled_rows = [r for r in bench["rows"] if r["speedup_over_eager"] is not None]
print(f"{'case':<13}{'method':<8}{'1st call (s)':>13}{'compiled/s':>11}{'x eager':>8}")
for r in compiled_rows:
    print(f"{r['case']:<13}{r['method']:<8}{r['first_call_s']:>13.1f}{r['engine_steps_per_s']:>11.1f}"
          f"{r['speedup_over_eager']:>8.2f}")

# %% [markdown]
# ### Exercise 2 · When does compiling pay for itself?
#
# Compiling costs its first call; each later step saves `eager_step_s - compiled_step_s`. Write
# `break_even_steps(first_call_s, eager_step_s, compiled_step_s)`: the number of meta-steps after which the
# compile has paid for itself (a whole number), or `None` if a compiled step is not faster.

# %% tags=["exercise"]
def break_even_steps(first_call_s, eager_step_s, compiled_step_s):
    """Meta-steps after which compiling has saved its first call's cost; None if it never does."""
    # BEGIN SOLUTION (exercise 06.2)
    saved = eager_step_s - compiled_step_s
    return math.ceil(first_call_s / saved) if saved > 0 else None
    # END SOLUTION


# %%
break_even_steps = check("06.2", break_even_steps)
for r in compiled_rows:
    compiled_s = 1 / r["engine_steps_per_s"]
    steps = break_even_steps(r["first_call_s"], compiled_s * r["speedup_over_eager"], compiled_s)
    print(f"{r['case']:<13}{r['method']:<8} pays off after {steps or 'never'} meta-steps "
          f"(the benchmark says {r['break_even_steps'] or 'never'})")

# %%
steps_03 = profile_settings("03_en_es_to_fr", "full")["steps"]
paying = [r for r in compiled_rows if r["break_even_steps"] and r["break_even_steps"] <= steps_03]
print(f"notebook 03's full profile trains {steps_03} meta-steps per condition: compiling pays off within that for "
      f"{len(paying)} of {len(compiled_rows)} rows of this benchmark")

# %% [markdown]
# The rule: compile when a run is much longer than the break-even point and the model is small enough for
# per-operation overhead to dominate; a large encoder's time is in its matrix multiplications, which compiling
# does not make much faster. (A warm on-disk compiler cache makes the first call, and so the break-even point,
# much smaller than these cold-cache numbers.)
#
# ## 4 · Memory: what second order costs
#
# **Predict, then run.** Second-order MAML keeps the graph of every inner step until the outer backward pass;
# first-order MAML and Reptile do not. Which method's peak memory grows with the number of inner steps? And
# which grows with the number of tasks per meta-batch under `vmap`?

# %%
meter, memory = memory_rows(
    torch.device("cpu") if device.type != "cuda" else device,
    pairs=[tuple(p) for p in settings["memory_pairs"]],
    repeats=settings["memory_repeats"],
)
print(format_memory_table(meter, memory, device))
plot_memory(memory, meter.description)
plt.show()

# %% [markdown]
# On a CPU the numbers are the resident set's high-water mark (it includes the allocator's slack, so small
# differences are noise); on a GPU they are CUDA's own statistics. What to take from them when a model outgrows a
# GPU: fewer tasks per process (and several processes, section 5), first order instead of second, fewer inner
# steps, or `--bf16` (bfloat16 autocast for the forward passes, weights kept in float32). The few-shot protocol
# keeps only the condition it is fine-tuning on the device; the others wait on the CPU.
#
# ## 5 · Several processes
#
# A meta-batch of T tasks can be split over P processes (GPUs, or CPU processes). Each process computes the mean
# meta-gradient over **its** tasks with the engine; then the processes must agree on the mean over **all** T
# tasks before every one of them takes the same outer step. `torch.distributed.all_reduce` sums a tensor over
# processes; what goes into it decides whether the result equals one process's. The shares are contiguous and
# differ by at most one task (`my_share` in `xlmeta_lab/meta/distributed.py`): 7 tasks over 3 processes are 2, 2
# and 3, so the processes' means are over different numbers of tasks.

# %% [markdown]
# ### Exercise 3 · Combine the processes' meta-gradients
#
# Write `all_reduce_mean(per_rank_grads, per_rank_tasks)`: given each process's mean meta-gradient (a dict of
# tensors) and how many tasks it had, return the meta-gradient of the whole meta-batch. The check splits 7 tasks
# 4 + 2 + 1 and compares with the engine on all 7 in one process.

# %% tags=["exercise"]
def all_reduce_mean(per_rank_grads, per_rank_tasks):
    """The whole meta-batch's meta-gradient from each process's mean over its own tasks."""
    # BEGIN SOLUTION (exercise 06.3)
    total = sum(per_rank_tasks)
    return {
        name: sum(g[name] * n for g, n in zip(per_rank_grads, per_rank_tasks)) / total for name in per_rank_grads[0]
    }
    # END SOLUTION


# %%
all_reduce_mean = check("06.3", all_reduce_mean)

# %% [markdown]
# The engine does the same with one `all_reduce` of a flat buffer (`xlmeta_lab/meta/distributed.py`): each process
# multiplies its mean by its task count, the all-reduce sums, and every process divides by the global count. The
# joint baseline, which is ordinary training, uses PyTorch's `DistributedDataParallel`. Checkpoints are written by
# process 0 only, atomically, and a stopped run resumes.
#
# **Predict, then run.** Below, the toy languages of notebook 02 are meta-trained with MAML twice: in one
# process, and in two processes that each take half of every meta-batch. Will the trained weights be identical,
# equal to rounding, or visibly different?

# %%
runs = Path(tempfile.mkdtemp(prefix="xlmeta-06-"))
train_args = ["train", "--task", "toy", "--method", "maml", "--profile", "quick", "--seed", str(SEED)]
seconds = {}
for nproc in (1, 2):
    start = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-m", "xlmeta_lab.cli", *train_args, "--nproc", str(nproc), "--out", str(runs / f"p{nproc}")],
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # one thread per process (torchrun warns otherwise)
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 0, finished.stderr
    seconds[nproc] = time.perf_counter() - start
weights = {n: dict(load_checkpoint(runs / f"p{n}").build_model().state_dict()) for n in (1, 2)}
distributed_gap = max(float((weights[1][k] - weights[2][k]).abs().max()) for k in weights[1])
print(f"one process: {seconds[1]:.1f} s, two processes: {seconds[2]:.1f} s (start-up included): two processes were "
      f"{'faster' if seconds[2] < seconds[1] else 'slower'} here")
print(f"largest difference between the trained weights: {distributed_gap:.1e}")

# %% [markdown]
# The two runs compute the same thing; what differs is the order in which numbers are summed (each process sums
# its share, the all-reduce sums the shares), which changes the last bits of every meta-gradient. Over a few dozen
# Adam steps, which divide by running gradient magnitudes, those bits grow into differences of the size printed
# above, far below anything that changes a prediction; after one step the tests find the two within 1e-6. For a
# model this small, starting processes and talking between them costs more than the work they share; the point of
# the split is a model whose meta-batch does not fit on one GPU, or takes one GPU too long.
#
# **On a machine with several GPUs**: `xlmeta train ... --device cuda --nproc 4` (one process per GPU, NCCL), or
# `torchrun --nproc-per-node 4 -m xlmeta_lab.cli train ...`. **On several machines**: the same `torchrun` line on
# each, with `--nnodes N --node-rank i --rdzv-endpoint HOST:PORT`. The README's "Several GPUs or machines"
# section has the commands.

# %%
print(f"\nnotebook ran in {time.perf_counter() - started:.1f} s")
best = max(r.ratio for _, r in sweep)
report_key_result(
    f"engine up to {best:.1f}x the plain loop ({len(sweep)} sweep points); two processes match one to "
    f"{distributed_gap:.0e}"
)

# %% [markdown]
# ### Exercise 4 · Read the inner rates Meta-SGD learns (open-ended)
#
# `MetaLearner(..., learn_inner_lr=True)` learns one inner step size per parameter tensor and inner step
# (`xlmeta_lab/meta/rates.py`, Meta-SGD), beside the initialisation. Train one on sine regression (`sine_tasks` from
# `xlmeta_lab.data.sine`; any small network, starting rate and number of meta-steps), then read the learned rates.
# Return `{"learner": the MetaLearner, "init": the starting rate, "rates": {name: rate averaged over inner steps},
# "largest": the name with the largest rate, "grew": [names whose rate ended above init]}`.
#
# *Rubric.* Interpret the rates layer by layer: which tensors the inner loop should move most (often the biases and
# the last layer, which shift and scale a sine), what a rate near zero says (that tensor is shared by all tasks: ANIL's
# bet in reverse), and what a *negative* rate means (for that tensor, a step against the support gradient's sign
# adapts better). Say whether the picture holds for another seed.

# %% tags=["exercise", "open"]
def learned_rates_experiment():
    """{"learner", "init", "rates", "largest", "grew"}: Meta-SGD trained on sine tasks, and its learned rates."""
    # BEGIN SOLUTION (exercise 06.4)
    from torch import nn

    from xlmeta_lab.data.sine import sine_tasks
    from xlmeta_lab.meta import MetaLearner

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    init = 0.01
    learner = MetaLearner(
        model, nn.functional.mse_loss, inner_lr=init, inner_steps=1, outer_lr=0.003, learn_inner_lr=True
    )
    stream = torch.Generator().manual_seed(0)
    for _ in range(60):
        learner.step(sine_tasks(4, generator=stream))
    rates = {name: float(rate.detach().mean()) for name, rate in learner.inner_rates.named_rates().items()}
    return {
        "learner": learner,
        "init": init,
        "rates": rates,
        "largest": max(rates, key=rates.get),
        "grew": sorted(name for name, rate in rates.items() if rate > init),
    }
    # END SOLUTION


# %%
rates_finding = check("06.4", learned_rates_experiment)
if rates_finding:
    print({name: round(rate, 4) for name, rate in rates_finding["rates"].items()})

# %% [markdown]
# ## What to take away
#
# * `functional_call` makes parameters an argument; `vmap` maps over a task axis; `grad` is a function. Together
#   they run a whole meta-batch's inner and outer steps as one call, with the same numbers as a loop.
# * The engine's advantage over a loop comes from paying per-operation overhead once per batch instead of once per
#   task, so it should grow with tasks per meta-batch (the sentence under the table says whether it did here).
# * Compiling costs a first call and saves a little on every later one: worth it for long runs of small models.
# * Second-order MAML's memory grows with inner steps (it keeps their graphs); under `vmap` every method's grows
#   with tasks. First order, fewer tasks per process, several processes or bf16 are the ways out.
# * Distributed meta-training is the single-process computation with the tasks shared out: weight each share's
#   mean by its task count, sum over processes, divide by the total. The weights match one process's to rounding.

# %%
# Your progress: a check that has not run, or has failed, counts as not done (hint("06.1") and so on for help).
done, total = exercises_done("06")
