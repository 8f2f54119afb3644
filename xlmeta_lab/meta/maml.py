"""The meta-gradient, written as notebook 01 derives it.

For tasks ``i = 1..T``, each with a support set ``S_i`` and a query set ``Q_i``:

* inner loop (adaptation):  ``theta_i = theta - alpha * grad L_{S_i}(theta)``, repeated ``inner_steps`` times;
* meta-objective:           ``L(theta) = 1/T * sum_i L_{Q_i}(theta_i)``;
* meta-gradient (MAML):     ``grad L(theta) = 1/T * sum_i (I - alpha * H_i) grad L_{Q_i}(theta_i)``
  for one step, where ``H_i`` is the Hessian of the support loss. Autograd builds the ``(I - alpha H_i)``
  factor itself when the inner gradient is taken with ``create_graph=True``.
* first-order MAML (FOMAML) drops ``alpha * H_i``: the inner gradient is a constant, so the meta-gradient is
  ``1/T * sum_i grad L_{Q_i}(theta_i)``.
* Reptile (Nichol et al., 2018) needs no query gradient at all: it adapts on support and query and
  returns ``1/T * sum_i (theta - theta_i)``, a direction an ordinary optimiser can step along.
* ANIL (Raghu et al., 2020) adapts only some parameters (usually the head); the rest stay at ``theta``.

Two execution paths give the same numbers (tested): a plain loop over tasks with ``torch.autograd.grad``
(works for every model, keeps fused kernels such as the LSTM's), and one ``torch.func.vmap`` call over
the stacked tasks with ``torch.func.grad`` (much faster for small models that allow it).

References:
    Finn, Abbeel, Levine (2017), Model-Agnostic Meta-Learning, arXiv:1703.03400.
    Nichol, Achiam, Schulman (2018), On First-Order Meta-Learning Algorithms, arXiv:1803.02999.
    Raghu et al. (2020), Rapid Learning or Feature Reuse? (ANIL), arXiv:1909.09157.
    Li et al. (2017), Meta-SGD, arXiv:1707.09835.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from .attention import DOUBLE_BACKWARD_HINT, ensure_double_backward_attention, is_missing_double_backward
from .compiled import run_maybe_compiled
from .params import AdaptSpec, Params, call_model, select_adapted, stack_trees, trainable_params, tree_to
from .rates import LearnedInnerRates

Method = Literal["maml", "fomaml", "reptile"]
METHODS: tuple[str, ...] = ("maml", "fomaml", "reptile")
#: ``loss_fn(model_output, targets) -> scalar``
LossFn = Callable[[Any, Any], Tensor]
#: ``((x_support, y_support), (x_query, y_query))``
Task = tuple[tuple[Any, Any], tuple[Any, Any]]
InnerLR = float | LearnedInnerRates
#: Rate of parameter ``name`` at inner step ``step``.
RateOf = Callable[[str, int], Tensor | float]

# Models that failed under vmap once are not tried again (``batched="auto"``).
_VMAP_FAILED: weakref.WeakSet[nn.Module] = weakref.WeakSet()


@dataclass(frozen=True)
class MetaGradient:
    """A meta-gradient and the mean query loss after adaptation it was computed from."""

    grads: dict[str, Tensor]
    query_loss: Tensor
    batched: bool


def meta_gradient(
    model: nn.Module,
    loss_fn: LossFn,
    tasks: Sequence[Task],
    *,
    method: Method = "maml",
    inner_lr: InnerLR,
    inner_steps: int = 1,
    adapt: AdaptSpec = None,
    batched: bool | Literal["auto"] = "auto",
    compile: bool = False,
) -> dict[str, Tensor]:
    """The meta-gradient of ``model``'s parameters over a batch of tasks.

    Arguments:
        model: any ``nn.Module``; its parameters are the initialisation ``theta``. It is called as
            ``model(x)``, ``model(*x)`` for a tuple or ``model(**x)`` for a dict.
        loss_fn: ``loss_fn(model(x), y) -> scalar``.
        tasks: a sequence of ``((x_support, y_support), (x_query, y_query))``.
        method: ``"maml"`` (second order), ``"fomaml"`` (first order) or ``"reptile"``.
        inner_lr: the inner step size ``alpha``, or a :class:`LearnedInnerRates` (Meta-SGD / MAML++),
            whose gradients are returned too, under ``"inner_lr.<parameter name>"``.
        inner_steps: gradient steps on the support set (Reptile: on support and query).
        adapt: which parameters the inner loop updates (``None``: all; ``"head"``: ANIL).
        batched: ``True`` runs all tasks in one ``torch.func.vmap`` call, ``False`` loops over tasks,
            ``"auto"`` uses vmap when tasks have equal shapes and the model allows it.
        compile: run the batched (vmap) path through ``torch.compile``: several times faster per
            meta-step for small models, after a first call that compiles for tens of seconds (see
            :mod:`xlmeta_lab.meta.compiled`). The per-task loop always runs eagerly.

    Returns:
        A dict with the same keys as ``model.named_parameters()`` (zeros for frozen parameters): for
        MAML/FOMAML the gradient of the mean query loss after adaptation, for Reptile the mean of
        ``theta - theta_task``. Step with any optimiser: ``p.grad = grads[name]; optimiser.step()``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Linear(1, 1)
        >>> task = ((torch.ones(4, 1), torch.zeros(4, 1)), (torch.ones(4, 1), torch.zeros(4, 1)))
        >>> grads = meta_gradient(model, nn.functional.mse_loss, [task], inner_lr=0.1)
        >>> sorted(grads)
        ['bias', 'weight']
    """
    return meta_gradient_and_loss(
        model,
        loss_fn,
        tasks,
        method=method,
        inner_lr=inner_lr,
        inner_steps=inner_steps,
        adapt=adapt,
        batched=batched,
        compile=compile,
    ).grads


def meta_gradient_and_loss(
    model: nn.Module,
    loss_fn: LossFn,
    tasks: Sequence[Task],
    *,
    method: Method = "maml",
    inner_lr: InnerLR,
    inner_steps: int = 1,
    adapt: AdaptSpec = None,
    batched: bool | Literal["auto"] = "auto",
    compile: bool = False,
) -> MetaGradient:
    """:func:`meta_gradient`, also returning the mean query loss (for logging and NaN checks)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not tasks:
        raise ValueError("meta_gradient needs at least one task")
    if inner_steps < 1:
        raise ValueError(f"inner_steps must be >= 1, got {inner_steps}")
    params = trainable_params(model)
    adapted = select_adapted(params, adapt)
    if isinstance(inner_lr, LearnedInnerRates) and (
        not inner_lr.covers(adapted) or inner_lr.inner_steps < inner_steps
    ):
        raise ValueError("LearnedInnerRates must cover every adapted parameter for every inner step")
    if method == "maml":
        ensure_double_backward_attention(model)
    device = next(iter(params.values())).device
    stacked = _stack_for_vmap(model, tasks, method, batched, device)
    use_vmap = stacked is not None
    args = (model, loss_fn, tasks, params, adapted, method, inner_lr, inner_steps)
    try:
        if use_vmap:
            try:
                result = _meta_gradient_vmap(
                    model, loss_fn, stacked, params, adapted, method, inner_lr, inner_steps, compile
                )
            except (RuntimeError, NotImplementedError, ValueError) as error:
                if batched is True or is_missing_double_backward(error):
                    raise
                _give_up_on_vmap(model, error)
                use_vmap = False
                result = _meta_gradient_loop(*args)
        else:
            result = _meta_gradient_loop(*args)
    except RuntimeError as error:
        if is_missing_double_backward(error):
            raise RuntimeError(f"{error}\n\n{DOUBLE_BACKWARD_HINT}") from error
        raise
    grads, query_loss = result
    full = {name: grads.get(name, torch.zeros_like(p)) for name, p in model.named_parameters()}
    if isinstance(inner_lr, LearnedInnerRates):
        full.update({k: grads.get(k, torch.zeros_like(v)) for k, v in inner_lr.named_rates().items()})
    return MetaGradient(full, query_loss.detach(), use_vmap)


def adapt_params(
    model: nn.Module,
    loss_fn: LossFn,
    support: tuple[Any, Any],
    *,
    inner_lr: InnerLR,
    inner_steps: int,
    adapt: AdaptSpec = None,
) -> Params:
    """Fine-tune a copy of ``model``'s weights on one support set; the model itself is left unchanged.

    This is the inner loop on its own, as used at test time: the returned dict can be passed to
    :func:`xlmeta_lab.meta.params.call_model` to predict with the adapted weights.
    """
    params = {n: p.detach() for n, p in trainable_params(model).items()}
    adapted = select_adapted(params, adapt)
    device = next(iter(params.values())).device
    support = tree_to(support, device)
    with torch.enable_grad():
        fast = _inner_loop_autograd(
            model, loss_fn, params, adapted, _rate_fn(inner_lr), inner_steps, [support], create_graph=False
        )
    return {n: t.detach() for n, t in fast.items()}


def adapt_trajectory(
    model: nn.Module,
    loss_fn: LossFn,
    supports: Sequence[tuple[Any, Any]],
    *,
    inner_lr: float,
    record: Sequence[int],
    adapt: AdaptSpec = None,
    batched: bool | Literal["auto"] = "auto",
) -> dict[int, Params]:
    """Fine-tune copies of ``model``'s weights on several support sets at once, as independent tasks.

    This is the evaluation side of meta-learning: the K-shot draws of the few-shot protocol are tasks like
    any other, so they run through the same inner loop, in one ``vmap`` call where the model allows it
    (a per-draw loop otherwise, with the same numbers). One trajectory serves every candidate budget:
    the weights after each step count in ``record`` are returned as ``{steps: {name: tensor [D, ...]}}``
    with the draws on the leading axis.
    """
    record = sorted(set(record))
    if not record or record[0] < 0:
        raise ValueError(f"record needs step counts >= 0, got {record}")
    if not supports:
        raise ValueError("adapt_trajectory needs at least one support set")
    params = {n: p.detach() for n, p in trainable_params(model).items()}
    adapted = select_adapted(params, adapt)
    device = next(iter(params.values())).device
    rate = _rate_fn(inner_lr)
    stacked = _stack_for_vmap(model, [(s, s) for s in supports], "fomaml", batched, device)
    segments = list(zip([0, *record[:-1]], record))

    def trajectory(support: tuple, inner_loop: Callable[..., Params]) -> list[Params]:
        fast, out = params, []
        for start, stop in segments:
            if stop > start:
                fast = inner_loop(model, loss_fn, fast, adapted, rate, stop - start, [support])
            out.append({n: t.detach() for n, t in fast.items()})
        return out

    if stacked is not None:
        try:

            def func_loop(*args: Any) -> Params:
                return _inner_loop_func(*args, first_order=True)

            with torch.no_grad():
                runs = torch.func.vmap(lambda s: trajectory(s, func_loop), randomness="different")(stacked[0])
            return dict(zip(record, runs))
        except (RuntimeError, NotImplementedError, ValueError) as error:
            if batched is True:
                raise
            _give_up_on_vmap(model, error)

    def autograd_loop(*args: Any) -> Params:
        with torch.enable_grad():
            return _inner_loop_autograd(*args, create_graph=False)

    per_draw = [trajectory(tree_to(s, device), autograd_loop) for s in supports]
    return {
        steps: {n: torch.stack([run[i][n] for run in per_draw]) for n in params}
        for i, steps in enumerate(record)
    }


# --------------------------------------------------------------------------------------------------
# The inner loop, twice: with torch.autograd (loop path) and with torch.func (vmap path).
# --------------------------------------------------------------------------------------------------


def _rate_fn(inner_lr: InnerLR, rate_tensors: Mapping[str, Tensor] | None = None) -> RateOf:
    """``rate(name, step)``; with learned rates, read from ``rate_tensors`` (functional copies) if given."""
    if isinstance(inner_lr, LearnedInnerRates):
        if rate_tensors is None:
            return inner_lr.rate
        return lambda name, step: rate_tensors[f"inner_lr.{name}"][step]
    return lambda name, step: inner_lr


def _data_loss(
    model: nn.Module, loss_fn: LossFn, params: Mapping[str, Tensor], sets: Sequence[tuple]
) -> Tensor:
    """Mean loss over one or more ``(x, y)`` sets: the support set, or support and query for Reptile."""
    losses = [loss_fn(call_model(model, params, x), y) for x, y in sets]
    return losses[0] if len(losses) == 1 else torch.stack(losses).mean()


def _sgd_update(fast: Params, grads: Mapping[str, Tensor], rate: RateOf, step: int) -> Params:
    """``theta <- theta - alpha * g`` for the adapted names; the others stay as they are.

    A fixed rate uses ``torch.add(theta, g, alpha=-rate)``: one fused pass over the weights instead of
    a multiply and a subtract, which matters for large embedding tables.
    """
    updated = dict(fast)
    for name, grad in grads.items():
        alpha = rate(name, step)
        if isinstance(alpha, Tensor):
            updated[name] = fast[name] - alpha * grad
        else:
            updated[name] = torch.add(fast[name], grad, alpha=-alpha)
    return updated


def _inner_loop_autograd(
    model: nn.Module,
    loss_fn: LossFn,
    params: Params,
    adapted: Sequence[str],
    rate: RateOf,
    inner_steps: int,
    sets: Sequence[tuple],
    *,
    create_graph: bool,
) -> Params:
    """``inner_steps`` SGD steps with ``torch.autograd.grad``; ``create_graph`` keeps the second-order path."""
    fast = dict(params)
    for n in adapted:  # a detached start still needs a graph for the first gradient
        if not fast[n].requires_grad:
            fast[n] = fast[n].detach().requires_grad_()
    for step in range(inner_steps):
        loss = _data_loss(model, loss_fn, fast, sets)
        grads = torch.autograd.grad(
            loss, [fast[n] for n in adapted], create_graph=create_graph, allow_unused=True
        )
        used = {n: g for n, g in zip(adapted, grads) if g is not None}  # unused weights keep their value
        fast = _sgd_update(fast, used, rate, step)
        if not create_graph and not any(t.requires_grad for t in params.values()):
            fast = {n: t.detach().requires_grad_(n in adapted) for n, t in fast.items()}
    return fast


def _inner_loop_func(
    model: nn.Module,
    loss_fn: LossFn,
    params: Params,
    adapted: Sequence[str],
    rate: RateOf,
    inner_steps: int,
    sets: Sequence[tuple],
    *,
    first_order: bool,
) -> Params:
    """The same SGD steps with ``torch.func.grad``, so they can run inside ``vmap`` and an outer ``grad``."""
    fast = dict(params)
    for step in range(inner_steps):

        def support_loss(sub: Params, fast: Params = fast) -> Tensor:
            return _data_loss(model, loss_fn, {**fast, **sub}, sets)

        grads = torch.func.grad(support_loss)({n: fast[n] for n in adapted})
        if first_order:  # FOMAML: the inner gradient is a constant, so no Hessian term reaches theta
            grads = {n: g.detach() for n, g in grads.items()}
        fast = _sgd_update(fast, grads, rate, step)
    return fast


# --------------------------------------------------------------------------------------------------
# The two execution paths.
# --------------------------------------------------------------------------------------------------


def _meta_gradient_loop(
    model: nn.Module,
    loss_fn: LossFn,
    tasks: Sequence[Task],
    params: Params,
    adapted: Sequence[str],
    method: str,
    inner_lr: InnerLR,
    inner_steps: int,
) -> tuple[dict[str, Tensor], Tensor]:
    """One task at a time; each task's graph is freed after its backward pass, so memory stays flat."""
    rate = _rate_fn(inner_lr)
    device = next(iter(params.values())).device
    tasks = [tree_to(task, device) for task in tasks]
    if method == "reptile":
        return _reptile_loop(model, loss_fn, tasks, params, adapted, rate, inner_steps)
    rate_tensors = inner_lr.named_rates() if isinstance(inner_lr, LearnedInnerRates) else {}
    targets = {n: t for n, t in {**params, **rate_tensors}.items() if t.requires_grad}
    query_losses = []
    with _gradients_accumulated_in_place(targets) as grads:
        for support, query in tasks:
            fast = _inner_loop_autograd(
                model, loss_fn, params, adapted, rate, inner_steps, [support], create_graph=method == "maml"
            )
            loss = _data_loss(model, loss_fn, fast, [query])
            torch.autograd.backward(loss / len(tasks), inputs=list(targets.values()))
            query_losses.append(loss.detach())
    return grads, torch.stack(query_losses).mean()


def _reptile_loop(
    model: nn.Module,
    loss_fn: LossFn,
    tasks: Sequence[Task],
    params: Params,
    adapted: Sequence[str],
    rate: RateOf,
    inner_steps: int,
) -> tuple[dict[str, Tensor], Tensor]:
    """Reptile one task at a time: the mean of ``theta - theta_task``, no query gradient needed."""
    start = {n: t.detach() for n, t in params.items()}
    steps, query_losses = {n: torch.zeros_like(start[n]) for n in adapted}, []
    for support, query in tasks:
        fast = _inner_loop_autograd(
            model, loss_fn, start, adapted, rate, inner_steps, [support, query], create_graph=False
        )
        with torch.no_grad():
            for n in adapted:
                steps[n] += (start[n] - fast[n]) / len(tasks)
            query_losses.append(_data_loss(model, loss_fn, fast, [query]))
    return steps, torch.stack(query_losses).mean()


@contextmanager
def _gradients_accumulated_in_place(leaves: Mapping[str, Tensor]) -> Iterator[dict[str, Tensor]]:
    """Let autograd sum the per-task gradients into the leaves' ``.grad`` (in place, as ``backward()``
    does), then hand them over and put back whatever ``.grad`` held before.

    Summing the tensors ``torch.autograd.grad`` returns would allocate a new tensor per task and weight,
    which on the benchmark's 5000-word embedding table cost the loop path about 1 ms of a 34 ms meta-step
    (cProfile, LSTM tagger, first order).
    """
    saved = {n: t.grad for n, t in leaves.items()}
    for t in leaves.values():
        t.grad = None
    grads: dict[str, Tensor] = {}
    try:
        yield grads
        grads.update({n: t.grad for n, t in leaves.items() if t.grad is not None})
    finally:
        for n, t in leaves.items():
            t.grad = saved[n]


def _meta_gradient_vmap(
    model: nn.Module,
    loss_fn: LossFn,
    stacked: Task,
    params: Params,
    adapted: Sequence[str],
    method: str,
    inner_lr: InnerLR,
    inner_steps: int,
    compile: bool = False,
) -> tuple[dict[str, Tensor], Tensor]:
    """All tasks in one call: ``vmap`` over the stacked task axis (``stacked`` holds every task's data
    with a leading task dimension), then autograd back to theta for the meta-gradient."""
    supports, queries = stacked
    rate_tensors = inner_lr.named_rates() if isinstance(inner_lr, LearnedInnerRates) else {}
    settings = (loss_fn, list(adapted), inner_lr, inner_steps)

    if method == "reptile":
        theta = {n: t.detach() for n, t in params.items()}
        rates = {k: v.detach() for k, v in rate_tensors.items()}
        with torch.no_grad():
            fast, losses = run_maybe_compiled(
                _batched_reptile_weights, model, compile, *settings, theta, rates, supports, queries
            )
        return {n: theta[n] - fast[n].mean(0) for n in adapted}, losses.mean()

    # vmap runs the inner loops of all tasks in one call; ordinary autograd then differentiates the
    # mean query loss back to theta (measured faster here than an outer ``torch.func.grad``).
    targets = {**params, **rate_tensors}
    losses = run_maybe_compiled(
        _batched_query_losses,
        model,
        compile,
        *settings,
        method == "fomaml",
        params,
        rate_tensors,
        supports,
        queries,
    )
    loss = losses.mean()
    names = [n for n, t in targets.items() if t.requires_grad]
    grads = torch.autograd.grad(loss, [targets[n] for n in names], allow_unused=True)
    return {n: g for n, g in zip(names, grads) if g is not None}, loss.detach()


def _batched_query_losses(
    model: nn.Module,
    loss_fn: LossFn,
    adapted: list[str],
    inner_lr: InnerLR,
    inner_steps: int,
    first_order: bool,
    theta: Params,
    rates: Params,
    supports: tuple,
    queries: tuple,
) -> Tensor:
    """Each task's query loss after adaptation, ``[tasks]``, differentiable back to ``theta`` and ``rates``."""

    def task_query_loss(theta: Params, rates: Params, support: tuple, query: tuple) -> Tensor:
        rate = _rate_fn(inner_lr, rates)
        fast = _inner_loop_func(
            model, loss_fn, theta, adapted, rate, inner_steps, [support], first_order=first_order
        )
        return _data_loss(model, loss_fn, fast, [query])

    batched = torch.func.vmap(task_query_loss, in_dims=(None, None, 0, 0), randomness="different")
    return batched(theta, rates, supports, queries)


def _batched_reptile_weights(
    model: nn.Module,
    loss_fn: LossFn,
    adapted: list[str],
    inner_lr: InnerLR,
    inner_steps: int,
    theta: Params,
    rates: Params,
    supports: tuple,
    queries: tuple,
) -> tuple[Params, Tensor]:
    """Each task's adapted weights after Reptile's inner loop on support and query, and its query loss."""

    def adapted_weights(support: tuple, query: tuple) -> tuple[Params, Tensor]:
        rate = _rate_fn(inner_lr, rates)
        sets = [support, query]
        fast = _inner_loop_func(model, loss_fn, theta, adapted, rate, inner_steps, sets, first_order=True)
        return {n: fast[n] for n in adapted}, _data_loss(model, loss_fn, fast, [query])

    return torch.func.vmap(adapted_weights, randomness="different")(supports, queries)


# --------------------------------------------------------------------------------------------------
# Can this batch run under vmap?
# --------------------------------------------------------------------------------------------------


#: Normalisation layers whose fused kernels give wrong second-order gradients under vmap: with per-task
#: weights, ``nn.LayerNorm``'s double backward differed from plain autograd by 0.17 (float64, torch 2.13;
#: see pytorch/functorch#534). A composite LayerNorm (``xlmeta_lab.models.LayerNorm``) is exact.
_FUSED_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._BatchNorm)


def vmap_obstacle(model: nn.Module, method: str = "maml") -> str | None:
    """Why ``model`` should not run under ``vmap`` for ``method``, or ``None`` if nothing is known to stop it.

    Recurrent layers call fused kernels with no batching rule; BatchNorm that tracks running statistics
    writes to a buffer in place, which vmap forbids; fused normalisation kernels give wrong second-order
    gradients under vmap (measured, see ``_FUSED_NORMS``), so second-order MAML loops over them.
    """
    if model in _VMAP_FAILED:
        return "it failed under vmap earlier in this session"
    for name, module in model.named_modules():
        label = name or "the model"
        if isinstance(module, nn.RNNBase):
            return f"{label} is a {type(module).__name__} (fused recurrent kernel, no vmap rule)"
        if (
            isinstance(module, nn.modules.batchnorm._BatchNorm)
            and module.track_running_stats
            and module.training
        ):
            return f"{label} is a BatchNorm that updates running statistics in place"
        has_affine = any(p.requires_grad for p in module.parameters(recurse=False))
        if method == "maml" and isinstance(module, _FUSED_NORMS) and has_affine:
            return (
                f"{label} is a fused {type(module).__name__}, whose second-order gradient under vmap is wrong "
                "in PyTorch (use xlmeta_lab.models.LayerNorm, a composite LayerNorm, to batch)"
            )
    return None


def _give_up_on_vmap(model: nn.Module, error: BaseException) -> None:
    """Remember that ``model`` failed under vmap (``"auto"`` will not try again) and say why, once."""
    _VMAP_FAILED.add(model)
    warnings.warn(
        f"torch.func.vmap could not run {type(model).__name__} ({type(error).__name__}: "
        f"{str(error).splitlines()[0][:160]}); using the per-task loop from now on.",
        stacklevel=3,
    )


def _stack_for_vmap(
    model: nn.Module,
    tasks: Sequence[Task],
    method: str,
    batched: bool | Literal["auto"],
    device: torch.device,
) -> Task | None:
    """The tasks stacked along a leading task axis if they will run under vmap, else ``None`` (loop)."""
    if batched not in (True, False, "auto"):
        raise ValueError(f"batched must be True, False or 'auto', got {batched!r}")
    if batched is False:
        return None
    obstacle = vmap_obstacle(model, method)
    if batched == "auto" and (obstacle is not None or len(tasks) < 2):
        return None
    if batched is True and obstacle is not None and model not in _VMAP_FAILED:
        raise ValueError(f"batched=True, but {obstacle}")
    try:
        stacked = stack_trees(list(tasks))
    except RuntimeError as error:  # torch.stack: tensors of different shapes
        if batched is True:
            raise ValueError(f"batched=True needs tasks of equal shapes (pad them): {error}") from error
        return None
    return tree_to(stacked, device)
