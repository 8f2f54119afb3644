"""Meta-training on two processes (Gloo, CPU) gives what one process gives: the meta-gradient, the trained
weights, and a run stopped part-way and resumed in fresh processes.

The two processes are started once for the module by the package's launcher (the one ``xlmeta train --nproc``
uses) and run ``distributed_worker.py``; each test compares what they wrote with one process here.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from distributed_worker import CONFIG, ENGINE, GRADIENTS, STOP, TRAINED, languages, tagger_and_tasks

from xlmeta_lab.cli import main
from xlmeta_lab.experiments.training.checkpoints import CHECKPOINT_NAME, load_checkpoint
from xlmeta_lab.experiments.training.launch import launch_local, local_device
from xlmeta_lab.experiments.training.loop import train
from xlmeta_lab.meta import meta_gradient_and_loss
from xlmeta_lab.models.tagger import tagging_loss

WORKER = Path(__file__).with_name("distributed_worker.py")
RANKS = (0, 1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("distributed")
    for phase in ("first", "resume"):  # fresh processes resume: nothing survives in memory
        assert launch_local(2, str(WORKER), [str(out), phase], quiet=False) == 0, f"phase {phase} failed"
    return out


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


@pytest.mark.parametrize("method", GRADIENTS)
def test_distributed_meta_gradient_equals_one_process(runs: Path, method: str) -> None:
    model, tasks = tagger_and_tasks()
    single = meta_gradient_and_loss(model, tagging_loss, tasks, method=method, **ENGINE)
    shared = [torch.load(runs / f"grads-{method}-{rank}.pt") for rank in RANKS]
    assert max(g.abs().max().item() for g in single.grads.values()) > 1e-3  # not trivially zero
    for saved in shared:
        assert max_diff(saved["grads"], single.grads) <= 1e-6
        assert abs(saved["loss"].item() - single.query_loss.item()) <= 1e-6
    assert max_diff(shared[0]["grads"], shared[1]["grads"]) == 0.0  # every process holds the same result


@pytest.mark.parametrize("method", TRAINED)
def test_distributed_training_ends_where_one_process_does(runs: Path, method: str, tmp_path: Path) -> None:
    single = train(languages(), replace(CONFIG, method=method), tmp_path, progress=False)
    saved = load_checkpoint(runs / method)
    assert saved.step == CONFIG.steps
    assert max_diff(saved.state["model"], single.model.state_dict()) <= 1e-6
    for ours, theirs in zip(saved.history, single.history):
        assert ours.keys() == theirs.keys()
        assert all(abs(ours[k] - theirs[k]) <= 1e-5 for k in ours)  # losses, validation accuracies
    weights = [torch.load(runs / f"weights-{method}-{rank}.pt") for rank in RANKS]
    assert max_diff(weights[0], weights[1]) == 0.0  # the processes never drift apart
    assert sorted(p.name for p in (runs / method).iterdir()) == [CHECKPOINT_NAME]  # one writer, no leftovers


def test_stopped_distributed_run_resumes_to_the_uninterrupted_one(runs: Path) -> None:
    assert [(runs / f"stopped-at-{rank}.txt").read_text() for rank in RANKS] == [str(STOP)] * 2
    resumed, whole = load_checkpoint(runs / "stopped"), load_checkpoint(runs / "maml")
    assert resumed.step == whole.step == CONFIG.steps
    assert max_diff(resumed.state["model"], whole.state["model"]) == 0.0
    assert resumed.history == whole.history
    for rank in RANKS:
        assert max_diff(torch.load(runs / f"weights-resumed-{rank}.pt"), whole.state["model"]) == 0.0
    own_streams = resumed.state["torch_rng_by_rank"]  # each process's dropout stream is kept, and differs
    assert len(own_streams) == 2 and not torch.equal(own_streams[0], own_streams[1])


def test_rank_zero_claims_the_run_folder_and_every_process_hears_its_refusals(runs: Path) -> None:
    holder_0, pid_0 = (runs / "lock-0.txt").read_text().split()
    holder_1, pid_1 = (runs / "lock-1.txt").read_text().split()
    assert holder_0 == holder_1 == pid_0 != pid_1  # one lock, naming rank 0's process
    refusals = [(runs / f"refusals-{rank}.txt").read_text().splitlines() for rank in RANKS]
    assert refusals[0] == refusals[1]
    assert "holds no checkpoint to continue" in refusals[0][0]
    assert "1 tasks cannot be shared among 2 processes" in refusals[0][1]


def test_nproc_under_a_launcher_that_started_another_count_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    argv = ["train", "--task", "toy", "--method", "fomaml", "--nproc", "2", "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --nproc 2, but the launcher started 4") and err.count("\n") == 1


def test_xlmeta_train_nproc_reports_once_and_refuses_once(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The command line end to end: two processes train the quick toy run; a second run into the same folder
    is refused by one ``error:`` line, not one per process."""
    argv = ["train", "--task", "toy", "--method", "fomaml", "--nproc", "2", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capfd.readouterr().out
    assert out.count("fomaml: 30 steps") == 1
    assert load_checkpoint(tmp_path).step == 30
    assert main(argv) == 2
    err = capfd.readouterr().err
    assert err.count("error: ") == 1 and "already holds a checkpoint" in err


@pytest.mark.parametrize("local_rank", ["0", "1"])
def test_more_processes_than_gpus_is_refused_by_every_process(
    local_rank: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only by the process left without a GPU: that one may not be the one that prints."""
    for name, value in {"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "LOCAL_RANK": local_rank}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="2 processes on this machine, but it has 1 GPU"):
        local_device(torch.device("cuda"))
    assert local_device(torch.device("cpu")) == torch.device("cpu")
