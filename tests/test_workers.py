"""Work units on several processes: how many, and that the results are those of one process.

The spawned workers import the package afresh, so these tests are about the real thing: a protocol and a set
of training runs computed by two processes equal, to the last bit, the same computed by one, and what the
workers cached is what one process reads back.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

import xlmeta_lab.experiments.protocol.run as protocol_module
import xlmeta_lab.experiments.studies.savings as savings_module
import xlmeta_lab.experiments.workers as workers_module
from xlmeta_lab.cli.main import main
from xlmeta_lab.data.roles import split_target
from xlmeta_lab.data.toy import make_toy_languages
from xlmeta_lab.experiments.config import ProtocolConfig, TrainConfig
from xlmeta_lab.experiments.protocol.results import Budget
from xlmeta_lab.experiments.protocol.run import run_protocol
from xlmeta_lab.experiments.studies import transfer
from xlmeta_lab.experiments.studies.conditions import TrainedConditions, train_conditions
from xlmeta_lab.experiments.studies.transfer import TransferSetup
from xlmeta_lab.experiments.workers import WORKERS_VARIABLE, worker_count

TINY = TrainConfig(
    steps=6,
    meta_batch=2,
    support_size=4,
    query_size=4,
    max_len=12,
    max_word_len=8,
    eval_every=6,
    checkpoint_every=1000,
    word_dim=8,
    char_dim=8,
    char_channels=8,
    hidden=16,
)
PROTOCOL = ProtocolConfig(ks=(0, 1, 5), n_draws=2, lrs=(0.1, 0.3), steps=(2, 5), max_word_len=8)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> None:
    """Each process sums on one thread, as each of two workers on two cores does: a product summed on another
    thread count may differ in its last bits, and this module asks for equality."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def toy() -> dict:
    return make_toy_languages({"en": 80, "es": 80, "fr": 160}, seed=0, relatedness=0.9)


@pytest.fixture(scope="module")
def trained(toy: dict) -> TrainedConditions:
    return train_conditions({"en": toy["en"], "es": toy["es"]}, TINY, ["joint", "maml"], [0, 1], workers=1)


def test_the_worker_count_comes_from_the_argument_the_environment_or_one(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(workers_module, "available_cores", lambda: 2)
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    assert worker_count() == 1
    monkeypatch.setenv(WORKERS_VARIABLE, "2")
    assert worker_count() == 2
    assert worker_count(1) == 1  # an argument wins over the environment
    with pytest.warns(UserWarning, match="workers=64, but this process may use 2 CPU core"):
        assert worker_count(64) == 2
    monkeypatch.setenv(WORKERS_VARIABLE, "64")
    with pytest.warns(UserWarning, match=f"{WORKERS_VARIABLE}=64"):
        assert worker_count() == 2
    for bad, message in (("0", "must be at least 1"), ("two", "a whole number")):
        monkeypatch.setenv(WORKERS_VARIABLE, bad)
        with pytest.raises(ValueError, match=message):
            worker_count()


def test_training_on_two_workers_gives_the_weights_of_one(toy: dict, trained: TrainedConditions) -> None:
    shared = train_conditions({"en": toy["en"], "es": toy["es"]}, TINY, ["joint", "maml"], [0, 1], workers=2)
    assert [c.name for c in shared.conditions] == [c.name for c in trained.conditions]
    for ours, theirs in zip(shared.conditions, trained.conditions):
        assert ours.seeds == theirs.seeds
        for a, b in zip(ours.models, theirs.models):
            assert a.state_dict().keys() == b.state_dict().keys()
            assert all(torch.equal(a.state_dict()[n], b.state_dict()[n]) for n in a.state_dict())
    assert [r.history for r in shared.runs["maml"]] == [r.history for r in trained.runs["maml"]]


def test_the_protocol_on_two_workers_gives_the_rows_of_one_and_shares_its_cache(
    toy: dict, trained: TrainedConditions, tmp_path: Path, monkeypatch
) -> None:
    splits = split_target(toy["fr"], holdout=30, test=60, seed=0)
    alone = run_protocol(trained.conditions, splits, trained.vocab, PROTOCOL, workers=1)
    lines: list[str] = []
    shared = run_protocol(
        trained.conditions, splits, trained.vocab, PROTOCOL, workers=2, cache=tmp_path, progress=lines.append
    )
    assert (
        len(alone.rows) == len(shared.rows) == 3 * 2 * (1 + 2 + 2) * 1
    )  # conditions x seeds x draws x tests
    key = ("condition", "K", "seed", "draw", "test_set")
    assert [tuple(r[k] for k in key) for r in shared.rows] == [tuple(r[k] for k in key) for r in alone.rows]
    gap = max(abs(a["accuracy"] - b["accuracy"]) for a, b in zip(alone.rows, shared.rows))
    assert gap == 0.0
    assert shared.rows == alone.rows
    assert {n: b.to_record() for n, b in shared.budgets.items()} == {
        n: b.to_record() for n, b in alone.budgets.items()
    }
    assert sorted(line for line in lines if line.startswith("evaluated")) == sorted(
        f"evaluated {c.name}" for c in trained.conditions
    )
    # What the workers computed is in the cache: one process reads every part back and computes nothing.
    for name in ("choose_budget", "_seed_rows"):
        monkeypatch.setattr(
            protocol_module, name, lambda *a, name=name, **k: pytest.fail(f"{name} was redone")
        )
    assert (
        run_protocol(trained.conditions, splits, trained.vocab, PROTOCOL, cache=tmp_path).rows == alone.rows
    )


def test_savings_curves_on_two_workers_give_the_rows_of_one_and_share_its_cache(
    toy: dict, trained: TrainedConditions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    splits = split_target(toy["fr"], holdout=30, test=60, seed=0)
    budgets = {
        c.name: Budget(lr=lr, steps=5, holdout_acc=0.0) for c, lr in zip(trained.conditions, (0.3, 0.1, 0.1))
    }
    args = (budgets, splits.support_pool, splits.tests["test"], trained.encoder)
    grid = {"ks": (1, 5), "steps": (0, 2, 5), "n_draws": 2, "draw_seed": 0}
    alone = savings_module.accuracy_curves(trained.conditions, *args, **grid, workers=1)
    shared = savings_module.accuracy_curves(trained.conditions, *args, **grid, workers=2, cache=tmp_path)
    assert len(alone) == 3 * 2 * 2 * 3 * 2  # conditions x seeds x K x steps x draws
    assert max(abs(a["accuracy"] - b["accuracy"]) for a, b in zip(alone, shared)) == 0.0
    assert shared == alone  # the same rows in the same order, whichever worker finished first
    monkeypatch.setattr(
        savings_module, "finetune_batch", lambda *a, **k: pytest.fail("kept curves were redone")
    )
    assert savings_module.accuracy_curves(trained.conditions, *args, **grid, cache=tmp_path) == alone


def test_gradient_alignment_on_two_workers_gives_the_cosines_of_one(toy: dict, tmp_path: Path) -> None:
    splits = split_target(toy["fr"], holdout=30, test=60, seed=0)
    setup = TransferSetup(
        {"en": toy["en"], "es": toy["es"]}, splits, TINY, PROTOCOL, {"en+es": ("en", "es")}, ("en", "es")
    )
    args = (setup, ["en", "es"], ["joint", "maml"], [0, 1], [0, 3, 6], 2)
    alone = transfer.alignment_along_training(*args, out_dir=tmp_path / "one", workers=1)
    shared = transfer.alignment_along_training(*args, out_dir=tmp_path / "two", workers=2)
    assert {(r["method"], r["seed"], r["step"]) for r in alone} == {
        (m, seed, step) for m in ("joint", "maml") for seed in (0, 1) for step in (0, 3, 6)
    }
    assert {r["kind"] for r in alone} == {"within", "across", "target"}
    assert max(abs(a["cosine"] - b["cosine"]) for a, b in zip(alone, shared)) == 0.0
    assert shared == alone


def test_a_warning_in_a_worker_is_raised_where_the_run_was_started(
    toy: dict, trained: TrainedConditions
) -> None:
    splits = split_target(toy["fr"], holdout=30, test=60, seed=0)
    diverging = ProtocolConfig(ks=(1,), n_draws=2, lrs=(0.1, 1e6), steps=(2,), max_word_len=8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_protocol(trained.conditions[1:], splits, trained.vocab, diverging, workers=2)
    assert sum("left out of the budget choice" in str(w.message) for w in caught) == 2


def test_xlmeta_train_refuses_more_processes_than_cores_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(workers_module, "available_cores", lambda: 2)
    argv = ["train", "--task", "toy", "--method", "fomaml", "--nproc", "64", "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --nproc 64, but this machine lets the run use 2 CPU core(s)")
    assert err.count("\n") == 1
    assert not (tmp_path / "run").exists()  # refused before a folder was claimed or a process started


def test_xlmeta_workbook_workers_reach_the_kernels_and_only_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    import papermill

    monkeypatch.setattr(workers_module, "available_cores", lambda: 2)
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    seen: list[str | None] = []

    def executed(source: str, target: str, **_: object) -> None:
        seen.append(os.environ.get(WORKERS_VARIABLE))
        Path(target).write_text(Path(source).read_text())

    monkeypatch.setattr(papermill, "execute_notebook", executed)
    out = str(tmp_path / "build")
    main(["workbook", "--only", "01", "--out", out, "--workers", "2"])
    main(["workbook", "--only", "01", "--out", out])
    main(["workbook", "--only", "01", "--out", out, "--workers", "8"])
    assert seen == ["2", None, "2"] and WORKERS_VARIABLE not in os.environ
    assert "warning: workers=8, but this process may use 2 CPU core(s): running 2" in capsys.readouterr().err
