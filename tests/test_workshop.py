"""What an instructor running the workbook for a room needs: profiles sized to the time at hand, run times that agree
everywhere they are printed, and a ``--time`` that rewrites them from a fresh measurement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from xlmeta_lab.teaching import notebook as start_up
from xlmeta_lab.teaching import timings as timing_file
from xlmeta_lab.teaching.profiles import PROFILES
from xlmeta_lab.teaching.runtime_docs import (
    notebook_paragraph,
    paragraph_in_source,
    readme_block,
    readme_table,
    write_run_time_docs,
)
from xlmeta_lab.teaching.timings import Timing, choose_profile, load_timings, save_timings, with_timing
from xlmeta_lab.teaching.workbook import NotebookRun, record_run_times

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def _timing(seconds: float, *, estimated: bool = False) -> Timing:
    return Timing(seconds, "2026-12-03", "a test machine", "a test", estimated=estimated)


def _table(**entries: float) -> timing_file.Timings:
    """``quick_cpu=20, full_gpu=300`` -> timings of one notebook, ``nb``."""
    table: timing_file.Timings = {}
    for key, seconds in entries.items():
        profile, kind = key.split("_")
        table = with_timing(table, "nb", profile, kind, _timing(seconds))
    return table


@pytest.fixture
def timings_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The timing file the start-up cell reads, moved to a temporary copy the test writes."""
    path = tmp_path / "timings.json"
    monkeypatch.setattr(timing_file, "timings_path", lambda: path)
    return path


def test_auto_on_a_cpu_runs_quick_and_prints_its_measured_estimate(
    timings_here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save_timings(
        with_timing(
            with_timing({}, "01_maml_derivation", "quick", "cpu", _timing(7)),
            "01_maml_derivation",
            "full",
            "cpu",
            _timing(35),
        ),
        timings_here,
    )
    profile, settings, device = start_up.start_notebook("01_maml_derivation", "auto", 0, "cpu")
    out = capsys.readouterr().out
    assert (profile, device.type) == ("quick", "cpu") and settings["n_seeds"] == PROFILES[
        "01_maml_derivation"
    ]["quick"]["n_seeds"]
    assert 'PROFILE="auto" chose quick: about 7 s measured on CPU, within the 10 min limit' in out
    assert '`full` (35 s on CPU) runs only when asked: PROFILE = "full"' in out


def test_auto_on_a_gpu_never_starts_a_profile_untimed_there(
    timings_here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first bullet of the workshop's trouble: on a Colab GPU ``"auto"`` became ``full``, hours of it."""
    save_timings(with_timing({}, "03_en_es_to_fr", "quick", "cpu", _timing(46)), timings_here)
    monkeypatch.setattr(start_up, "resolve_device", lambda _: torch.device("cuda"))
    profile, _, device = start_up.start_notebook("03_en_es_to_fr", "auto", 0, "auto")
    out = capsys.readouterr().out
    assert (profile, device.type) == ("quick", "cuda")
    assert "the smallest profile; never timed on GPU (46 s on CPU)" in out
    assert "`full` (not timed on GPU) runs only when asked" in out


def test_a_named_profile_runs_as_asked_with_what_is_known_of_its_time(timings_here: Path) -> None:
    save_timings(
        with_timing({}, "03_en_es_to_fr", "full", "cpu", _timing(12600, estimated=True)), timings_here
    )
    choice = start_up.resolve_profile("03_en_es_to_fr", "full", torch.device("cpu"))
    assert (
        choice.profile == "full"
        and choice.explanation == "PROFILE='full' as asked: about 3.5 h measured on CPU"
    )
    gpu = start_up.resolve_profile("03_en_es_to_fr", "full", torch.device("cuda"))
    assert gpu.profile == "full" and gpu.explanation.endswith("not timed on GPU")


@pytest.mark.parametrize(
    ("table", "hardware", "options", "chosen", "estimate"),
    [
        (_table(quick_cpu=20, full_cpu=35), "cpu", {}, "quick", 20),  # full fits, but is never chosen unasked
        (_table(quick_cpu=20, full_cpu=35), "cpu", {"allow_full": True}, "full", 35),
        (_table(quick_cpu=20, full_cpu=12600), "cpu", {"allow_full": True}, "quick", 20),  # over the limit
        (
            _table(quick_cpu=20, full_cpu=35),
            "gpu",
            {"allow_full": True},
            "quick",
            None,
        ),  # CPU times say nothing
        (_table(quick_gpu=5, full_gpu=300), "gpu", {"allow_full": True}, "full", 300),
        (_table(quick_gpu=5, full_gpu=300), "gpu", {"allow_full": True, "limit_s": 120}, "quick", 5),
        (_table(quick_cpu=900), "cpu", {}, "quick", 900),  # nothing fits: the smallest, and it says so
        (_table(quick_cpu=20), "mps", {}, "quick", None),
    ],
)
def test_auto_takes_the_largest_profile_measured_to_fit_on_the_hardware_at_hand(
    table: timing_file.Timings, hardware: str, options: dict, chosen: str, estimate: float | None
) -> None:
    choice = choose_profile("nb", hardware, table, **options)
    assert (choice.profile, choice.estimate_s) == (chosen, estimate)
    fits = estimate is not None and estimate <= options.get("limit_s", 600)
    assert ("within the" in choice.explanation) == fits, choice.explanation


def test_an_estimated_time_never_counts_as_fitting() -> None:
    table = with_timing(_table(quick_cpu=20), "nb", "full", "cpu", _timing(60, estimated=True))
    assert choose_profile("nb", "cpu", table, allow_full=True).profile == "quick"


def test_the_committed_timing_file_times_every_notebooks_quick_run_on_a_cpu() -> None:
    timings = load_timings()
    assert sorted(timings) == sorted(PROFILES)
    for notebook, profiles in timings.items():
        assert "cpu" in profiles["quick"], f"{notebook}: no measured quick run on a CPU"
        for profile, kinds in profiles.items():
            for kind, timing in kinds.items():
                assert timing.seconds > 0 and timing.machine and timing.how and timing.measured, (
                    notebook,
                    profile,
                    kind,
                )


def test_timings_survive_a_write_and_a_read(tmp_path: Path) -> None:
    timings = load_timings()
    assert load_timings(save_timings(timings, tmp_path / "t.json")) == timings


def test_readme_table_is_the_one_the_timing_file_gives() -> None:
    expected = readme_table(load_timings(), [script.stem for script in SCRIPTS])
    assert readme_block((ROOT / "README.md").read_text(encoding="utf-8")) == expected, (
        "the README's run times differ from xlmeta_lab/reference/timings.json: "
        "run `xlmeta workbook --time` (or write_run_time_docs) instead of editing them"
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_each_notebooks_run_time_line_is_the_one_the_timing_file_gives(script: Path) -> None:
    written = paragraph_in_source(script.read_text(encoding="utf-8"))
    assert written == " ".join(notebook_paragraph(script.stem, load_timings()).split()), script.name


def test_time_records_passed_runs_and_rewrites_the_readme_and_notebooks(
    timings_here: Path, tmp_path: Path
) -> None:
    """``xlmeta workbook --time`` after its runs: a failed run records nothing, the docs follow the file."""
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    (repo / "README.md").write_text(
        "# title\n\n" + readme_table({}, ["01_demo", "02_demo"]) + "\n\nmore text\n", encoding="utf-8"
    )
    for name in ("01_demo", "02_demo"):
        (repo / "notebooks" / f"{name}.py").write_text(
            "# %% [markdown]\n# # Demo\n#\n# **Run time** typed by hand: 3 s.\n#\n# Next paragraph.\n",
            encoding="utf-8",
        )
    runs = [NotebookRun("01_demo", "ok", 12.34, ""), NotebookRun("02_demo", "FAILED", 1.0, "ValueError: x")]
    record_run_times(runs, "quick", "a test CPU, 2 cores", repo / "notebooks")

    recorded = load_timings(timings_here)
    assert recorded["01_demo"]["quick"]["cpu"].seconds == 12.3 and "02_demo" not in recorded
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert "| `01_demo` | 12 s | not measured |" in readme and readme.endswith("more text\n")
    source = (repo / "notebooks" / "01_demo.py").read_text(encoding="utf-8")
    assert "typed by hand" not in source and "`quick` 12 s on CPU" in " ".join(source.split())
    assert source.endswith("#\n# Next paragraph.\n")
    assert write_run_time_docs(repo / "notebooks", recorded) == []  # written once, nothing left to change


STUDENT = ROOT / "notebooks" / "student"


def test_committed_student_copies_are_what_the_solutions_generate(tmp_path: Path) -> None:
    """Regenerated from today's solutions, the student copies are the committed ones, cell for cell."""
    from xlmeta_lab.teaching.workbook import write_student_workbook

    written = write_student_workbook(tmp_path, notebooks_dir=ROOT / "notebooks")
    assert sorted(p.name for p in written) == sorted(p.name for p in STUDENT.glob("*.ipynb"))
    stale = [
        path.name
        for path in written
        if json.loads(path.read_text(encoding="utf-8"))
        != json.loads((STUDENT / path.name).read_text(encoding="utf-8"))
    ]
    assert not stale, f"student copies behind their solutions: {stale}; run `xlmeta workbook --student`"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_a_student_copys_badge_opens_the_student_copy(script: Path) -> None:
    copy = json.loads((STUDENT / f"{script.stem}.ipynb").read_text(encoding="utf-8"))
    title = "".join(copy["cells"][0]["source"])
    assert f"/blob/main/notebooks/student/{script.stem}.ipynb)" in title
    assert f"/blob/main/notebooks/{script.stem}.ipynb)" not in title
    assert copy["metadata"]["xlmeta_student_copy"] and "formats" not in copy["metadata"].get("jupytext", {})
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"/blob/main/notebooks/student/{script.stem}.ipynb)" in readme, (
        "the README links every student copy"
    )
