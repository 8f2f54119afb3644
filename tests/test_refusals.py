"""Nothing lost, nothing silent: run folders belong to one run, absurd settings are refused up front, and an
expected failure is one ``error:`` line (a table of cases, so each stays fixed)."""

from __future__ import annotations

import errno
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from treebanks import fewshot_argv, write_conllu

from xlmeta_lab.cli import main
from xlmeta_lab.experiments.config import ProtocolConfig, TrainConfig
from xlmeta_lab.experiments.training.checkpoints import save_checkpoint
from xlmeta_lab.experiments.training.run_folder import LOCK_NAME, RunFolderError, check_run_folder, run_lock


def shrink_toy_quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toy task's quick profile cut to seconds (4 steps on 80 sentences per language)."""
    from xlmeta_lab.teaching import profiles

    tiny = dict(profiles.PROFILES["02_toy_languages"]["quick"])
    tiny.update(sentences=80, fr_sentences=120, fr_holdout=10, fr_test=40, steps=4, eval_every=2, hidden=16)
    monkeypatch.setitem(profiles.PROFILES["02_toy_languages"], "quick", tiny)


@pytest.fixture
def tiny_toy(monkeypatch: pytest.MonkeyPatch) -> None:
    shrink_toy_quick(monkeypatch)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ``xlmeta train --task toy --method fomaml`` run (shrunk quick profile, seed 0); read only."""
    run = tmp_path_factory.mktemp("toy-run")
    with pytest.MonkeyPatch.context() as monkeypatch:
        shrink_toy_quick(monkeypatch)
        assert train_toy(run) == 0
    return run


def train_toy(out: Path, *options: str, method: str = "fomaml") -> int:
    return main(["train", "--task", "toy", "--method", method, "--out", str(out), *options])


def test_a_finished_run_is_never_replaced_silently(tmp_path: Path, tiny_toy: None, capsys) -> None:
    run = tmp_path / "run"
    assert train_toy(run) == 0
    capsys.readouterr()
    assert train_toy(run, method="maml") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "fomaml, seed 0, step 4" in err
    assert "--resume" in err and "--overwrite" in err and "another --out" in err
    assert train_toy(run, "--overwrite", method="maml") == 0
    assert train_toy(tmp_path / "fresh", "--resume") == 2
    assert "holds no checkpoint" in capsys.readouterr().err


def test_an_unusable_out_is_found_before_training(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(RunFolderError, match="is a file, not a folder"):
        check_run_folder(not_a_folder, resume=False)


def test_a_living_run_holds_its_folder_and_a_dead_ones_lock_is_taken_over(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / LOCK_NAME).write_text(str(sleeper.pid))
        busy = pytest.raises(RunFolderError, match=f"in use by another run \\(process {sleeper.pid}\\)")
        with busy, run_lock(tmp_path):
            pass
    finally:
        sleeper.kill()
        sleeper.wait()
    with run_lock(tmp_path) as lock:  # its process is gone: stale
        assert lock.read_text() == str(os.getpid())
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_killed_runs_temporary_checkpoint_is_cleaned_on_the_next_start(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    leftover = tmp_path / f".checkpoint.pt.tmp-{dead.stdout.strip()}"
    leftover.write_bytes(b"half a checkpoint")
    check_run_folder(tmp_path, resume=False)
    assert not leftover.exists()


def test_a_failed_checkpoint_write_leaves_no_litter_and_says_the_old_one_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_checkpoint(tmp_path / "checkpoint.pt", {"step": 1})
    import torch

    def full_disk(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="previous checkpoint is unchanged and --resume continues from it"):
        save_checkpoint(path, {"step": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    assert torch.load(path, weights_only=True)["step"] == 1


@pytest.mark.parametrize("bad", [math.nan, math.inf, 0.0, -1.0, 1e400])
def test_absurd_learning_rates_are_refused_up_front(bad: float) -> None:
    with pytest.raises(ValueError, match="finite number > 0"):
        TrainConfig(inner_lr=bad)
    with pytest.raises(ValueError, match="finite number > 0"):
        ProtocolConfig(lrs=(0.1, bad))
    with pytest.raises(ValueError, match="steps >= 0"):
        ProtocolConfig(steps=(0, -1))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "--init", "{tmp}/missing", "--task", "toy"], "no checkpoint at"),
        (
            ["train", "--task", "toy", "--method", "maml", "--device", "cuda", "--out", "{tmp}/r"],
            "--device cuda",
        ),
        (
            ["fewshot", "--init", "{tmp}/missing", "--support", "x", "--test", "y", "--shots", "5"],
            "no checkpoint",
        ),
        (["workbook", "--only", "99"], "no notebook matches"),
    ],
)
def test_expected_failures_are_one_error_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if "--device" in argv and __import__("torch").cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and message in captured.err
    assert "Traceback" not in captured.err


def test_a_loss_that_explodes_stops_training_even_when_finite() -> None:
    from xlmeta_lab.data.toy import make_toy_languages
    from xlmeta_lab.experiments.training.loop import TrainingDiverged, train

    languages = make_toy_languages(60, languages=("en", "es"), seed=0)
    config = TrainConfig(method="joint", steps=30, outer_lr=50.0, eval_every=30, hidden=16)
    with pytest.raises(TrainingDiverged, match=r"the loss is [0-9.]+, over 100x its start"):
        train(languages, config, progress=False)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a checkpoint at all", "is not an xlmeta checkpoint"),
        (None, "cannot be read as an xlmeta checkpoint"),
    ],
)
def test_an_init_that_is_not_a_checkpoint_is_one_line_and_never_suggests_unsafe_loading(
    content: bytes | None, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    init = tmp_path / "checkpoint.pt"
    if content is None:  # a real checkpoint cut in half, as a kill during a copy leaves it
        whole = save_checkpoint(init, {"format": 1, "step": 1, "blob": list(range(5000))}).read_bytes()
        init.write_bytes(whole[: len(whole) // 2])
    else:
        init.write_bytes(content)
    assert main(["evaluate", "--init", str(init), "--task", "toy"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "weights_only=False" not in err


def test_fewshot_refuses_an_interval_when_every_draw_is_the_whole_pool(
    tmp_path: Path, tiny_toy: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from xlmeta_lab.data.toy import make_toy_languages

    assert train_toy(tmp_path / "run") == 0
    french = make_toy_languages(30, seed=1)["fr"]
    support = write_conllu(tmp_path / "support.conllu", french[:10])
    test = write_conllu(tmp_path / "test.conllu", french[10:])
    argv = ["fewshot", "--init", str(tmp_path / "run"), "--support", str(support), "--test", str(test)]
    assert main([*argv, "--shots", "8", "--draws", "3", "--holdout", "0.2"]) == 2  # 10 - 2 held out = 8
    assert "would be the same set" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("profile", "seed", "device", "message"),
    [
        ("fast", 0, "auto", "PROFILE='fast' is not a profile of 02_toy_languages; choose one of auto, quick, full"),
        ("quick", "notanint", "auto", "SEED='notanint' must be a whole number"),
        ("quick", -1, "auto", "SEED=-1 must be a whole number"),
        ("quick", 0, "gpu", "DEVICE='gpu' must be"),
    ],
)
def test_notebook_parameters_are_checked_in_the_start_up_cell(
    profile: str, seed: object, device: str, message: str
) -> None:
    from xlmeta_lab.teaching.notebook import start_notebook

    with pytest.raises(ValueError, match=re.escape(message)):
        start_notebook("02_toy_languages", profile, seed, device)  # type: ignore[arg-type]


def test_auto_profile_never_starts_full_by_itself(capsys: pytest.CaptureFixture[str]) -> None:
    """What ``"auto"`` makes of the measured run times is tested in test_workshop; here, only that it refuses
    nothing and never turns into hours of ``full`` on either kind of hardware."""
    import torch

    from xlmeta_lab.teaching.notebook import resolve_profile, start_notebook

    assert resolve_profile("03_en_es_to_fr", "auto", torch.device("cuda")).profile == "quick"
    assert resolve_profile("03_en_es_to_fr", "auto", torch.device("cpu")).profile == "quick"
    assert resolve_profile("03_en_es_to_fr", "full", torch.device("cpu")).profile == "full"
    profile, settings, _ = start_notebook("01_maml_derivation", "auto", 0, "cpu")
    assert profile == "quick" and settings["n_seeds"] == 3
    assert 'PROFILE="auto" chose quick' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("role", "content", "message"),
    [
        ("support", "Le chat mang\xe9 .".encode("latin-1"), "support.conllu:1: not UTF-8 text (byte 0xe9"),
        ("test", b"\x1f\x8b\x08\x00\x00binary", "test.conllu:1: not UTF-8 text (byte 0x8b"),
    ],
)
def test_fewshot_names_the_file_that_is_not_utf8(
    role: str,
    content: bytes,
    message: str,
    tiny: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / f"{role}.conllu"
    bad.write_bytes(content)
    assert main([*fewshot_argv(tiny, **{role: bad}), "--shots", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and str(bad) in err
    assert err.count("\n") == 1 and "codec" not in err


def test_fewshot_cuts_a_run_on_sentence_into_parts_instead_of_padding_to_it(
    tiny: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from xlmeta_lab.data.ud import Sentence, read_conllu
    from xlmeta_lab.episodes.encoders import MAX_SENTENCE_WORDS

    words = 100 * MAX_SENTENCE_WORDS  # a file without sentence breaks
    run_on = Sentence(("chat",) * words, ("NOUN",) * words, "", "target", "")
    support = write_conllu(tmp_path / "support.conllu", [*read_conllu(tiny["support"], "target"), run_on])
    argv = [*fewshot_argv(tiny, support=support), "--shots", "2", "--draws", "2", "--steps", "2"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert (
        f"warning: support.conllu: 1 sentence(s) longer than {MAX_SENTENCE_WORDS} words (the longest, 'support-30', "
        f"has {words}) cut into parts of at most {MAX_SENTENCE_WORDS}"
    ) in err


def _test_file(case: str, tiny: dict[str, Path], folder: Path) -> Path:
    """The --test file of a case of the table below, built from the ``tiny`` fixture's support and test."""
    from dataclasses import replace

    from xlmeta_lab.data.ud import read_conllu

    support, test = (read_conllu(tiny[role], "target") for role in ("support", "test"))
    if case == "the support file":
        return tiny["support"]
    if case == "3 support sentences added":
        return write_conllu(folder / "test.conllu", [*test, *support[:3]])
    assert case == "another script"
    greek = [replace(s, forms=tuple("ζ" * len(form) for form in s.forms)) for s in test]
    return write_conllu(folder / "test.conllu", greek)


@pytest.mark.parametrize(
    ("case", "status", "message"),
    [
        ("the support file", 2, "error: all 30 sentences of {support} are also in {support} (the same words"),
        (
            "3 support sentences added",
            0,
            "warning: 3 of 23 sentences of {test} are also in {support} (the same",
        ),
        (
            "another script",
            0,
            "warning: 100.0% of the characters of {test} are unknown to the model (over 20%)",
        ),
    ],
)
def test_fewshot_says_when_test_and_support_share_sentences_or_the_model_cannot_spell_them(
    case: str,
    status: int,
    message: str,
    tiny: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    test = _test_file(case, tiny, tmp_path)
    assert main([*fewshot_argv(tiny, test=test), "--shots", "2", "--draws", "2", "--steps", "2"]) == status
    err = capsys.readouterr().err
    assert message.format(support=tiny["support"], test=test) in err


@pytest.mark.parametrize(
    ("lrs", "status", "message"),
    [
        (
            ["1e30"],
            2,
            "error: fomaml: fine-tuning ended with a non-finite loss on the support set at every budget of the "
            "grid (lrs 1e+30; steps 2), so no budget can be chosen and nothing scored",
        ),
        (
            ["0.1", "1e30"],
            0,
            "warning: fomaml: fine-tuning ended with a non-finite loss on the support set at lr=1e+30 steps=2; "
            "left out of the budget choice",
        ),
    ],
)
def test_a_fine_tuning_that_diverges_is_never_a_score(
    lrs: list[str], status: int, message: str, tiny: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*fewshot_argv(tiny), "--shots", "2", "--draws", "2", "--steps", "2", "--lrs", *lrs]
    assert main(argv) == status
    assert message in capsys.readouterr().err


def test_a_chosen_budget_that_diverges_on_the_draws_names_the_condition_and_budget(
    tiny: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from xlmeta_lab.experiments.protocol import run as protocol

    # As if the holdout had chosen a budget that then diverges on the scored draws.
    monkeypatch.setattr(protocol, "choose_budget", lambda *args: protocol.Budget(1e30, 2, 0.5))
    assert main([*fewshot_argv(tiny), "--shots", "2", "--draws", "2", "--steps", "2"]) == 2
    assert (
        "error: fomaml, K=2: fine-tuning for 2 steps at lr=1e+30 ended with a non-finite loss on the support set "
        "in 2 of 2 draw(s), so it has no score"
    ) in capsys.readouterr().err



def test_finetune_refuses_weights_that_are_no_longer_finite() -> None:
    """Training validation, ``xlmeta adapt`` and notebook 03's inline example adapt with ``finetune``: a
    diverged adaptation must stop them, not be scored or saved."""
    import torch

    from xlmeta_lab.episodes.tensors import Labeled, TokenInputs
    from xlmeta_lab.experiments.adaptation.finetune import FineTuningDiverged, finetune
    from xlmeta_lab.models.tagger import Tagger, TaggerConfig

    model = Tagger(TaggerConfig(n_tags=3, n_words=6, n_chars=5, word_dim=4, char_dim=4, char_channels=4, hidden=4))
    words, chars = torch.tensor([[2, 3, 4]]), torch.tensor([[[2, 3], [4, 0], [3, 3]]])
    support = Labeled(TokenInputs(words, chars), torch.tensor([[0, 1, 2]]))
    assert all(torch.isfinite(t).all() for t in finetune(model, support, lr=0.1, steps=2).values())
    with pytest.raises(FineTuningDiverged, match=r"fine-tuning for 2 steps at lr=1e\+30 left non-finite weights"):
        finetune(model, support, lr=1e30, steps=2)

@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["train", "--resume", "--seed", "1"],
            "the checkpoint in {run} was trained with seed 0, this run asks for seed 1; resume with the same "
            "--seed, or train into another --out",
        ),
        (
            ["train", "--resume", "--profile", "full"],
            "was trained with profile quick, this run asks for profile full; resume with the same --profile",
        ),
        (
            ["train", "--resume", "--method", "maml", "--seed", "2"],
            "was trained with method fomaml and seed 0, this run asks for method maml and seed 2; resume with "
            "the same --method and --seed",
        ),
        (
            ["evaluate", "--seed", "1"],
            "the checkpoint in {run} was trained with seed 0, this run asks for seed 1; pass the same --seed",
        ),
        (
            ["evaluate", "--task", "ud-pos"],
            "was trained with task toy, this run asks for task ud-pos; pass the same --task",
        ),
    ],
)
def test_a_checkpoint_asked_for_with_other_settings_says_which_in_the_users_words(
    argv: list[str], message: str, toy_run: Path, tiny_toy: None, capsys: pytest.CaptureFixture[str]
) -> None:
    command, *options = argv
    where = ["--out", str(toy_run)] if command == "train" else ["--init", str(toy_run)]
    defaults = {"--task": "toy", "--method": "fomaml" if command == "train" else None}
    given = [a for flag, value in defaults.items() if value and flag not in options for a in (flag, value)]
    assert main([command, *given, *where, *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message.format(run=toy_run) in err
    assert "n_words" not in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (OSError(errno.ENOSPC, "write failed"), "the disk is full"),  # told by its errno, not its words
        (OSError(errno.EIO, "Input/output error"), "Input/output error;"),  # another OSError: its own words
        (RuntimeError("unexpected pos 281152 vs 281040"), "unexpected pos 281152 vs 281040;"),
    ],
)
def test_a_failed_checkpoint_write_says_why_and_keeps_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, said: str
) -> None:
    import torch

    from xlmeta_lab.experiments.training.checkpoints import save_checkpoint

    path = save_checkpoint(tmp_path / "checkpoint.pt", {"step": 1})

    def failing_save(payload: object, target: Path) -> None:
        Path(target).write_bytes(b"half")
        raise error

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="could not write the checkpoint") as raised:
        save_checkpoint(path, {"step": 2})
    assert said in str(raised.value) and "MB free" in str(raised.value)
    assert "the previous checkpoint is unchanged and --resume continues from it" in str(raised.value)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"], "no temporary file left"
