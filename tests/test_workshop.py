"""What an instructor running the workbook for a room needs: profiles sized to the time at hand, run times that agree
everywhere they are printed, and a ``--time`` that rewrites them from a fresh measurement."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from xlmeta_lab.cli.main import main
from xlmeta_lab.data import bundle, sources
from xlmeta_lab.data.roles import UD_EXPERIMENT_FILES
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
        choice.profile == "full" and choice.explanation == "PROFILE='full' as asked: estimated 3.5 h on CPU"
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


def test_a_packed_bundle_round_trips_through_xlmeta_data_and_xlmeta_data_env(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pack what notebook 03 reads, then use the zip both ways a learner would: as ``XLMETA_DATA`` and unpacked."""
    zip_path = tmp_path / "session.zip"
    assert main(["data", "pack", str(zip_path), "--notebooks", "03", "--data-dir", str(data_dir)]) == 0
    assert sorted(bundle.manifest_of(zip_path)) == sorted(
        sources.entry(key).relpath for key in UD_EXPERIMENT_FILES
    )

    monkeypatch.setenv(sources.ENV_DATA, str(zip_path))
    monkeypatch.setenv(sources.ENV_CACHE, str(tmp_path / "cache"))
    folder = sources.resolve_all(UD_EXPERIMENT_FILES)  # each file checked against its pinned sha256
    assert folder.is_relative_to(tmp_path / "cache" / "bundles")
    assert sources.resolve_all(UD_EXPERIMENT_FILES) == folder  # unpacked once, then read from there

    unpacked = tmp_path / "unpacked"
    assert main(["data", "unpack", str(zip_path), "--data-dir", str(unpacked)]) == 0
    rows = {row.key: row for row in sources.verify(unpacked)}
    assert all(rows[key].ok for key in UD_EXPERIMENT_FILES)
    assert f"{len(UD_EXPERIMENT_FILES)} files unpacked into {unpacked}" in capsys.readouterr().out


def _rewrite(zip_path: Path, change: dict[str, bytes]) -> None:
    with zipfile.ZipFile(zip_path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name, data in (members | change).items():
            archive.writestr(name, data)


def test_a_damaged_or_unsafe_bundle_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "a.conllu"
    source.write_text("1\tUn\tun\tDET\t_\t_\t0\troot\t_\t_\n\n", encoding="utf-8")
    zip_path = bundle.pack({"UD_French-GSD/fr_gsd-ud-dev.conllu": source}, tmp_path / "b.zip")
    _rewrite(zip_path, {"UD_French-GSD/fr_gsd-ud-dev.conllu": b"other bytes"})
    assert main(["data", "unpack", str(zip_path), "--data-dir", str(tmp_path / "out")]) == 2
    assert "does not match its manifest's sha256" in capsys.readouterr().err
    assert not (tmp_path / "out" / "UD_French-GSD").exists()

    manifest = json.dumps(
        {"format": 1, "files": {"../escape.txt": hashlib.sha256(b"x").hexdigest()}}
    ).encode()
    unsafe = tmp_path / "unsafe.zip"
    with zipfile.ZipFile(unsafe, "w") as archive:
        archive.writestr("../escape.txt", b"x")
        archive.writestr(bundle.MANIFEST, manifest)
    with pytest.raises(bundle.BundleError, match="outside the data folder"):
        bundle.unpack(unsafe, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_fetch_gets_and_checks_only_what_the_chosen_notebooks_read(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Downloads are served from the mirror (no network in tests), through the same pinned-sha256 check."""
    served = []

    def from_mirror(url: str, known_hash: str, fname: str, path: Path, progressbar: bool) -> str:
        item = next(i for i in sources.REGISTRY.values() if i.url == url)
        served.append(item.key)
        Path(path).mkdir(parents=True, exist_ok=True)
        return shutil.copy(data_dir / item.relpath, Path(path) / fname)

    monkeypatch.setattr(sources.pooch, "retrieve", from_mirror)
    empty = tmp_path / "data"
    assert main(["data", "fetch", "--notebooks", "01", "03", "--data-dir", str(empty)]) == 0
    out = capsys.readouterr().out
    assert "01_maml_derivation: reads no data files" in out
    assert sorted(served) == sorted(UD_EXPERIMENT_FILES)
    assert (
        main(["data", "fetch", "--notebooks", "03", "--data-dir", str(empty)]) == 0
    )  # all there: no download
    assert len(served) == len(UD_EXPERIMENT_FILES)
    assert main(["data", "fetch", "--notebooks", "09"]) == 2


def _executed_notebook(tmp_path: Path) -> Path:
    """An executed notebook as papermill leaves one: a title, printed text with a key result, and a figure."""
    import base64
    import io

    import matplotlib.pyplot as plt
    import nbformat

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([0, 1, 5, 20], [5, 40, 69, 76], color="#d62728", lw=6)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell(
            "# 03 · English + Spanish → French, for real\n\nMeta-learning, read in a browser."
        ),
        nbformat.v4.new_code_cell(
            "report_key_result(...)\nplot_accuracy_vs_k(...)",
            outputs=[
                nbformat.v4.new_output("stream", name="stdout", text="KEY RESULT: K=5 French: maml 69.3%\n"),
                nbformat.v4.new_output(
                    "display_data",
                    data={
                        "image/png": base64.b64encode(buffer.getvalue()).decode(),
                        "text/plain": "<Figure>",
                    },
                ),
            ],
        ),
    ]
    path = tmp_path / "build" / "03_en_es_to_fr.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)
    return path


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("no chromium to render the pages in (apt-get install chromium; .ci/run installs it)")
    return found


def _browse(browser: str, page: Path, *options: str) -> str:
    """What headless Chromium makes of ``page``: its rendered DOM (``--dump-dom``) or, given a screenshot option,
    its log."""
    import subprocess

    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        *options,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def test_html_copy_renders_text_and_figures_in_a_headless_browser(tmp_path: Path) -> None:
    """``xlmeta workbook --html``: the index lists the notebook with its key result, and the notebook's page shows
    its text and its figure when a real browser draws it (pixels, not only markup)."""
    import matplotlib.image

    browser = _chromium()
    executed = _executed_notebook(tmp_path)
    site = tmp_path / "site"
    assert main(["workbook", "--html", str(site), "--out", str(executed.parent)]) == 0

    index = _browse(browser, site / "index.html", "--dump-dom")
    assert 'href="03_en_es_to_fr.html"' in index and "03 · English + Spanish → French, for real" in index
    assert "key result: K=5 French: maml 69.3%" in index

    page = site / "03_en_es_to_fr.html"
    dom = _browse(browser, page, "--dump-dom")
    assert "Meta-learning, read in a browser." in dom and "KEY RESULT: K=5 French: maml 69.3%" in dom
    assert re.search(r'<img [^>]*src="data:image/png;base64,', dom)  # the figure travels inside the page

    shot = tmp_path / "page.png"
    _browse(browser, page, f"--screenshot={shot}", "--window-size=1000,1200")
    pixels = matplotlib.image.imread(shot)[..., :3]
    red = (
        (pixels[..., 0] > 0.7) & (pixels[..., 1] < 0.3) & (pixels[..., 2] < 0.3)
    )  # the figure's line, #d62728
    dark = pixels.sum(axis=-1) < 1.0  # text
    assert red.sum() > 500, f"the figure did not render: {red.sum()} red pixels"
    assert dark.sum() > 500, f"no text rendered: {dark.sum()} dark pixels"


def test_html_copy_needs_executed_notebooks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workbook", "--html", str(tmp_path / "site"), "--out", str(tmp_path / "empty")]) == 2
    assert "no executed notebooks" in capsys.readouterr().err


@pytest.mark.notebook
def test_executed_copies_keep_their_figures_under_a_headless_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI exports MPLBACKEND=Agg; the workbook's kernels must still put each figure into the executed notebook,
    or the HTML copy has none."""
    import nbformat

    from xlmeta_lab.teaching.workbook import run_workbook

    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_code_cell('PROFILE = "quick"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()"),
    ]
    (tmp_path / "notebooks").mkdir()
    nbformat.write(notebook, tmp_path / "notebooks" / "01_figure.ipynb")
    (run,) = run_workbook(notebooks_dir=tmp_path / "notebooks", out_dir=tmp_path / "build")
    executed = nbformat.read(run.executed, as_version=4)
    assert run.status == "ok" and "image/png" in executed.cells[-1].outputs[0].get("data", {})
