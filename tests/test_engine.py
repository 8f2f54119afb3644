"""The engine's two paths, its options and its errors.

The explicit-Hessian oracle tests live in ``test_derivation.py``; here every check compares the engine
with an independent computation (a hand-written loop, finite differences) or with itself across paths.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from autocast import needs_cpu_bf16
from compilers import make_torch_compile_fail, needs_cxx
from torch import nn
from torch.func import functional_call

from xlmeta_lab.experiments.bench.engine import plain_loop_meta_gradient
from xlmeta_lab.experiments.bench.tasks import tagger_tasks
from xlmeta_lab.meta import (
    ALGORITHMS,
    LearnedInnerRates,
    MetaLearner,
    Task,
    adapt_params,
    adapt_trajectories,
    adapt_trajectory,
    meta_gradient,
    meta_gradient_and_loss,
)
from xlmeta_lab.models.tagger import Tagger, TaggerConfig, tagging_loss

mse = nn.functional.mse_loss


def small_mlp(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).double()


def regression_tasks(seed: int, n_tasks: int = 4, shots: int = 5) -> list:
    g = torch.Generator().manual_seed(seed)

    def draw(n: int):
        return torch.randn(n, 3, generator=g, dtype=torch.float64), torch.randn(
            n, 2, generator=g, dtype=torch.float64
        )

    return [(draw(shots), draw(shots + 2)) for _ in range(n_tasks)]


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.mark.parametrize("method", ["maml", "fomaml", "reptile"])
@pytest.mark.parametrize("inner_steps", [1, 3])
def test_vmap_and_loop_give_the_same_meta_gradient(method: str, inner_steps: int) -> None:
    model, tasks = small_mlp(0), regression_tasks(1)
    kwargs = dict(method=method, inner_lr=0.2, inner_steps=inner_steps)
    looped = meta_gradient_and_loss(model, mse, tasks, batched=False, **kwargs)
    batched = meta_gradient_and_loss(model, mse, tasks, batched=True, **kwargs)
    assert not looped.batched and batched.batched
    assert max_diff(looped.grads, batched.grads) < 1e-12
    assert torch.allclose(looped.query_loss, batched.query_loss)
    assert max(g.abs().max().item() for g in looped.grads.values()) > 1e-3  # not trivially zero


@pytest.mark.parametrize("method", ["maml", "fomaml"])
def test_engine_matches_the_textbook_loop(method: str) -> None:
    model, tasks = small_mlp(2), regression_tasks(3)
    expected = plain_loop_meta_gradient(model, mse, tasks, method, 0.3, 2)
    assert (
        max_diff(meta_gradient(model, mse, tasks, method=method, inner_lr=0.3, inner_steps=2), expected)
        < 1e-12
    )


def test_loop_path_leaves_the_models_own_gradients_alone() -> None:
    """The loop sums task gradients in the parameters' ``.grad`` fields; whatever was there comes back."""
    model, tasks = small_mlp(4), regression_tasks(5)
    for p in model.parameters():
        p.grad = torch.full_like(p, 7.0)
    before = {n: p.grad for n, p in model.named_parameters()}
    expected = plain_loop_meta_gradient(small_mlp(4), mse, tasks, "maml", 0.3, 1)
    grads = meta_gradient(model, mse, tasks, inner_lr=0.3, batched=False)
    assert max_diff(grads, expected) < 1e-12
    for name, p in model.named_parameters():
        assert p.grad is before[name] and bool((p.grad == 7.0).all())


def test_first_and_second_order_differ_on_a_curved_loss() -> None:
    model, tasks = small_mlp(4), regression_tasks(5)
    second = meta_gradient(model, mse, tasks, method="maml", inner_lr=0.5)
    first = meta_gradient(model, mse, tasks, method="fomaml", inner_lr=0.5)
    assert max_diff(first, second) > 1e-3
    # and agree as the inner step vanishes, where the Hessian term alpha * H vanishes too
    second = meta_gradient(model, mse, tasks, method="maml", inner_lr=1e-7)
    first = meta_gradient(model, mse, tasks, method="fomaml", inner_lr=1e-7)
    assert max_diff(first, second) < 1e-6


def test_reptile_update_is_theta_minus_adapted_weights() -> None:
    model, tasks = small_mlp(6), regression_tasks(7, n_tasks=3)
    theta = {n: p.detach().clone() for n, p in model.named_parameters()}
    expected = {n: torch.zeros_like(t) for n, t in theta.items()}
    for (xs, ys), (xq, yq) in tasks:
        fast = {n: t.clone().requires_grad_() for n, t in theta.items()}
        for _ in range(2):
            loss = (
                mse(functional_call(model, fast, (xs,)), ys) + mse(functional_call(model, fast, (xq,)), yq)
            ) / 2
            grads = torch.autograd.grad(loss, list(fast.values()))
            fast = {n: (w - 0.1 * g).detach().requires_grad_() for (n, w), g in zip(fast.items(), grads)}
        for n in theta:
            expected[n] += (theta[n] - fast[n].detach()) / len(tasks)
    for batched in (False, True):
        got = meta_gradient(model, mse, tasks, method="reptile", inner_lr=0.1, inner_steps=2, batched=batched)
        assert max_diff(got, expected) < 1e-12


def test_reptile_leaves_a_weight_no_task_moved_exactly_where_it_was() -> None:
    """Embedding rows of words no task contains must get a Reptile direction of exactly 0, on both paths:
    Adam turns even a one-ulp direction (the float32 mean of equal weights can be one) into a full step."""
    torch.manual_seed(0)
    model = Tagger(
        TaggerConfig(n_tags=5, n_words=40, n_chars=12, word_dim=8, char_dim=4, char_channels=8, hidden=8)
    )
    g = torch.Generator().manual_seed(1)

    def batch():  # words 1..19 only: rows 20..39 are in no task
        chars = torch.randint(1, 12, (3, 6, 4), generator=g)
        return (torch.randint(1, 20, (3, 6), generator=g), chars), torch.randint(0, 5, (3, 6), generator=g)

    tasks = [(batch(), batch()) for _ in range(3)]
    for batched in (False, True):
        grads = meta_gradient(model, tagging_loss, tasks, method="reptile", inner_lr=0.3, batched=batched)
        assert torch.count_nonzero(grads["words.weight"][20:]) == 0
        assert torch.count_nonzero(grads["words.weight"][1:20]) > 0


@needs_cpu_bf16
@pytest.mark.parametrize("method", ALGORITHMS)
@pytest.mark.parametrize("batched", [False, True])
def test_bf16_autocast_meta_gradient_stays_close_to_float32(method: str, batched: bool) -> None:
    """Inner and outer passes under ``torch.autocast`` (what ``TrainConfig.bf16`` does): a different,
    close meta-gradient, still in float32 like the weights."""
    model, loss_fn, tasks = tagger_tasks("conv")(torch.Generator().manual_seed(0))
    kwargs = dict(method=method, inner_lr=0.1, inner_steps=2, batched=batched)
    exact = meta_gradient_and_loss(model, loss_fn, tasks, **kwargs)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        rough = meta_gradient_and_loss(model, loss_fn, tasks, **kwargs)
    assert rough.batched == exact.batched == batched
    assert all(g.dtype == torch.float32 for g in rough.grads.values())
    error = sum(((rough.grads[n] - exact.grads[n]) ** 2).sum() for n in exact.grads) ** 0.5
    size = sum((g**2).sum() for g in exact.grads.values()) ** 0.5
    assert 0 < error / size < 0.03  # bf16 did run (not equal), and stayed close
    assert abs(rough.query_loss.item() - exact.query_loss.item()) < 0.01


def test_anil_adapts_only_the_head() -> None:
    model, tasks = small_mlp(8), regression_tasks(9)
    grads = meta_gradient(model, mse, tasks, method="maml", inner_lr=0.3, adapt="2")
    # by hand: the body is shared, only layer "2" takes the inner step
    expected = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    params = dict(model.named_parameters())
    for (xs, ys), (xq, yq) in tasks:
        head = {n: params[n] for n in ("2.weight", "2.bias")}
        inner = torch.autograd.grad(
            mse(functional_call(model, params, (xs,)), ys), list(head.values()), create_graph=True
        )
        fast = {**params, **{n: w - 0.3 * g for (n, w), g in zip(head.items(), inner)}}
        outer = torch.autograd.grad(
            mse(functional_call(model, fast, (xq,)), yq) / len(tasks), list(params.values())
        )
        for n, g in zip(params, outer):
            expected[n] += g
    assert max_diff(grads, expected) < 1e-12
    assert grads["0.weight"].abs().max() > 0  # the body still learns, through the head's adaptation


def test_adapt_names_must_select_something() -> None:
    with pytest.raises(ValueError, match="selects no parameter"):
        meta_gradient(small_mlp(0), mse, regression_tasks(0), inner_lr=0.1, adapt="decoder")


def test_learned_inner_rates_gradient_matches_finite_differences() -> None:
    model, tasks = small_mlp(10), regression_tasks(11, n_tasks=2)
    names = [n for n, _ in model.named_parameters()]
    rates = LearnedInnerRates(names, inner_steps=2, init=0.2).double()
    with torch.no_grad():
        rates.rates[rates.key("2.weight")][1] = 0.35
    for batched in (False, True):
        result = meta_gradient_and_loss(model, mse, tasks, inner_lr=rates, inner_steps=2, batched=batched)
        analytic = result.grads["inner_lr.2.weight"][1].item()
        rate = rates.rates[rates.key("2.weight")]
        losses = []
        for delta in (1e-6, -1e-6):
            with torch.no_grad():
                rate[1] += delta
            losses.append(
                meta_gradient_and_loss(model, mse, tasks, inner_lr=rates, inner_steps=2).query_loss.item()
            )
            with torch.no_grad():
                rate[1] -= delta
        numeric = (losses[0] - losses[1]) / 2e-6
        assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-9)
        assert abs(analytic) > 1e-6


def test_lstm_falls_back_to_the_loop_and_stays_correct() -> None:
    torch.manual_seed(0)
    model = Tagger(TaggerConfig(n_tags=5, n_words=30, word_dim=8, hidden=8, context="lstm", context_layers=1))
    g = torch.Generator().manual_seed(0)

    def batch():
        return torch.randint(1, 30, (3, 6), generator=g), torch.randint(0, 5, (3, 6), generator=g)

    tasks = [(batch(), batch()) for _ in range(3)]
    result = meta_gradient_and_loss(model, tagging_loss, tasks, inner_lr=0.1)
    assert not result.batched
    with pytest.raises(ValueError, match="LSTM"):
        meta_gradient(model, tagging_loss, tasks, inner_lr=0.1, batched=True)
    assert max_diff(result.grads, plain_loop_meta_gradient(model, tagging_loss, tasks, "maml", 0.1, 1)) < 1e-5


def test_conv_tagger_runs_under_vmap_with_padding() -> None:
    torch.manual_seed(0)
    model = Tagger(
        TaggerConfig(n_tags=5, n_words=30, n_chars=12, word_dim=8, char_dim=4, char_channels=8, hidden=8)
    )
    g = torch.Generator().manual_seed(1)

    def batch():
        words = torch.randint(1, 30, (3, 6), generator=g)
        chars = torch.randint(1, 12, (3, 6, 4), generator=g)
        tags = torch.randint(0, 5, (3, 6), generator=g)
        words[:, -2:], chars[:, -2:], tags[:, -2:] = 0, 0, -100  # padded tail
        return (words, chars), tags

    tasks = [(batch(), batch()) for _ in range(3)]
    batched = meta_gradient_and_loss(model, tagging_loss, tasks, inner_lr=0.1, inner_steps=2)
    looped = meta_gradient_and_loss(model, tagging_loss, tasks, inner_lr=0.1, inner_steps=2, batched=False)
    assert batched.batched
    assert max_diff(batched.grads, looped.grads) < 1e-5


def test_tasks_of_different_shapes_use_the_loop() -> None:
    model = small_mlp(0)
    tasks = regression_tasks(1, n_tasks=2) + regression_tasks(2, n_tasks=1, shots=9)
    assert not meta_gradient_and_loss(model, mse, tasks, inner_lr=0.1).batched
    with pytest.raises(ValueError, match="equal shapes"):
        meta_gradient(model, mse, tasks, inner_lr=0.1, batched=True)


@pytest.mark.parametrize("batched", [False, True])
def test_a_task_and_a_plain_tuple_give_the_same_meta_gradient(batched: bool) -> None:
    model, tasks = small_mlp(16), regression_tasks(17)
    named = [Task(support=support, query=query) for support, query in tasks]
    for method in ALGORITHMS:
        kwargs = dict(method=method, inner_lr=0.2, inner_steps=2, batched=batched)
        plain = meta_gradient_and_loss(model, mse, tasks, **kwargs)
        as_tasks = meta_gradient_and_loss(model, mse, named, **kwargs)
        assert plain.batched is as_tasks.batched is batched
        assert max_diff(plain.grads, as_tasks.grads) == 0
        assert torch.equal(plain.query_loss, as_tasks.query_loss)


def test_unknown_method_and_bad_steps_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        meta_gradient(small_mlp(0), mse, regression_tasks(0), inner_lr=0.1, method="mamI")
    with pytest.raises(ValueError, match="inner_steps"):
        meta_gradient(small_mlp(0), mse, regression_tasks(0), inner_lr=0.1, inner_steps=0)


def test_adapt_params_leaves_the_model_alone_and_lowers_support_loss() -> None:
    model, tasks = small_mlp(12), regression_tasks(13, n_tasks=1)
    (xs, ys), _ = tasks[0]
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    fast = adapt_params(model, mse, (xs, ys), inner_lr=0.1, inner_steps=5)
    assert max_diff(before, {n: p.detach() for n, p in model.named_parameters()}) == 0
    assert mse(functional_call(model, fast, (xs,)), ys) < mse(model(xs), ys)


def test_adapt_trajectory_records_what_adapt_params_reaches_on_each_support() -> None:
    model, tasks = small_mlp(18), regression_tasks(19, n_tasks=3)
    supports = [support for support, _ in tasks]
    for batched in (False, True):
        trajectory = adapt_trajectory(model, mse, supports, inner_lr=0.1, record=(5, 0, 2), batched=batched)
        assert sorted(trajectory) == [0, 2, 5]
        for steps, weights in trajectory.items():
            for draw, support in enumerate(supports):
                expected = adapt_params(model, mse, support, inner_lr=0.1, inner_steps=steps)
                assert max_diff({n: w[draw] for n, w in weights.items()}, expected) < 1e-12


def test_adapt_trajectories_gives_each_rate_what_its_own_trajectory_gives() -> None:
    """Rates batched beside the draws (one vmap call) reach what one call per rate reaches, on both paths."""
    model, tasks = small_mlp(20), regression_tasks(21, n_tasks=3)
    supports = [support for support, _ in tasks]
    for batched in (False, True):
        together = adapt_trajectories(
            model, mse, supports, inner_lrs=(0.3, 0.05, 0.3), record=(0, 3), batched=batched
        )
        assert list(together) == [0.3, 0.05]  # each rate once, in the order given
        for lr, trajectory in together.items():
            alone = adapt_trajectory(model, mse, supports, inner_lr=lr, record=(0, 3), batched=batched)
            for steps in (0, 3):
                assert max_diff(trajectory[steps], alone[steps]) < 1e-12, (batched, lr, steps)
        assert max_diff(together[0.3][3], together[0.05][3]) > 1e-3  # the rates did differ


def test_meta_learner_step_lowers_the_meta_loss_on_sine_like_tasks() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
    learner = MetaLearner(model, mse, method="maml", inner_lr=0.05, outer_lr=3e-3)
    g = torch.Generator().manual_seed(0)

    def task():
        amplitude, phase = 0.5 + torch.rand((), generator=g), torch.rand((), generator=g)

        def draw():
            x = 4 * torch.rand(10, 1, generator=g) - 2
            return x, amplitude * torch.sin(x + phase)

        return draw(), draw()

    fixed = [task() for _ in range(8)]
    start = meta_gradient_and_loss(model, mse, fixed, inner_lr=0.05).query_loss
    for _ in range(150):
        learner.step([task() for _ in range(4)])
    end = meta_gradient_and_loss(model, mse, fixed, inner_lr=0.05).query_loss
    assert end < 0.7 * start


def compiled_graphs() -> int:
    """How many graphs Dynamo has compiled in this process (to tell a compiled call from a silent eager one)."""
    from torch._dynamo.utils import counters

    return counters["stats"]["unique_graphs"]


@needs_cxx
@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("maml", {"inner_lr": "learned"}),  # second order, and gradients for the learned rates
        ("fomaml", {"adapt": "2"}),  # ANIL: only the last layer adapts
        ("reptile", {}),
    ],
    ids=["maml-learned-rates", "fomaml-anil", "reptile"],
)
def test_compiled_engine_gives_the_eager_meta_gradient(method: str, options: dict) -> None:
    model, tasks = small_mlp(20), regression_tasks(21, n_tasks=3)
    kwargs = dict(method=method, inner_lr=0.2, inner_steps=2, adapt=options.get("adapt"))
    if options.get("inner_lr") == "learned":
        kwargs["inner_lr"] = LearnedInnerRates([n for n, _ in model.named_parameters()], 2, 0.2).double()
    eager = meta_gradient_and_loss(model, mse, tasks, **kwargs)
    graphs = compiled_graphs()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="torch.compile could not run")  # fail, not fall back
        compiled = meta_gradient_and_loss(model, mse, tasks, compile=True, **kwargs)
        assert compiled_graphs() > graphs, "nothing was compiled"
        # the next meta-step (new tasks of the same shapes, a new settings object) reuses the compiled code
        graphs = compiled_graphs()
        meta_gradient_and_loss(model, mse, regression_tasks(24, n_tasks=3), compile=True, **kwargs)
        assert compiled_graphs() == graphs, "compiled again for the next meta-step"
    assert compiled.batched
    assert compiled.grads.keys() == eager.grads.keys()
    assert max_diff(compiled.grads, eager.grads) < 1e-10
    assert torch.allclose(compiled.query_loss, eager.query_loss)
    assert max(g.abs().max().item() for g in eager.grads.values()) > 1e-3


def test_a_model_that_cannot_be_compiled_runs_eagerly_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_torch_compile_fail(monkeypatch)
    model, tasks = small_mlp(22), regression_tasks(23)
    eager = meta_gradient(model, mse, tasks, method="fomaml", inner_lr=0.2)
    with pytest.warns(UserWarning, match="torch.compile could not run Sequential.*no C\\+\\+ compiler"):
        fallback = meta_gradient(model, mse, tasks, method="fomaml", inner_lr=0.2, compile=True)
    assert max_diff(fallback, eager) == 0
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="torch.compile could not run")
        meta_gradient(model, mse, tasks, method="fomaml", inner_lr=0.2, compile=True)


def test_fused_layernorm_is_looped_for_second_order_and_the_composite_one_is_batched() -> None:
    """vmap gets nn.LayerNorm's second derivative wrong (pytorch/functorch#534); the engine must not use it."""
    from xlmeta_lab.models.tagger import LayerNorm

    g = torch.Generator().manual_seed(1)

    def batch():
        return torch.randn(3, 6, 4, generator=g, dtype=torch.float64), torch.randn(
            3, 6, 4, generator=g, dtype=torch.float64
        )

    tasks = [(batch(), batch()) for _ in range(3)]
    for norm, expect_batched in ((nn.LayerNorm(4), False), (LayerNorm(4), True)):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 4), norm).double()
        with torch.no_grad():
            model[1].weight.uniform_(0.5, 1.5)  # away from the identity, where the bug hides
        result = meta_gradient_and_loss(model, mse, tasks, inner_lr=0.5)
        assert result.batched is expect_batched
        assert max_diff(result.grads, plain_loop_meta_gradient(model, mse, tasks, "maml", 0.5, 1)) < 1e-12
    with pytest.raises(ValueError, match="LayerNorm"):
        meta_gradient(
            nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)).double(), mse, tasks, inner_lr=0.5, batched=True
        )
    # first order never differentiates the LayerNorm backward again, so it may batch
    assert meta_gradient_and_loss(model, mse, tasks, method="fomaml", inner_lr=0.5).batched


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (none on CI); run on a GPU machine"
)
@pytest.mark.parametrize("method", ["maml", "fomaml", "reptile"])
def test_cuda_gives_the_cpu_meta_gradient(method: str) -> None:
    from xlmeta_lab.meta import resolve_device

    model, tasks = small_mlp(14), regression_tasks(15)
    on_cpu = meta_gradient(model, mse, tasks, method=method, inner_lr=0.2, inner_steps=2)
    device = resolve_device("auto")
    on_gpu = meta_gradient(model.to(device), mse, tasks, method=method, inner_lr=0.2, inner_steps=2)
    assert all(g.device.type == "cuda" for g in on_gpu.values())
    assert max_diff(on_cpu, {n: g.cpu() for n, g in on_gpu.items()}) < 1e-10


def test_device_auto_falls_back_to_the_cpu_and_refuses_a_missing_gpu() -> None:
    from xlmeta_lab.meta import resolve_device

    if not torch.cuda.is_available():
        assert resolve_device("auto").type in ("cpu", "mps")
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            resolve_device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")
