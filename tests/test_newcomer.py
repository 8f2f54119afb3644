"""What a newcomer meets first: the data found wherever the package finds it, a workbook that checks before it
runs, a command line that answers quickly and shows its defaults, and README examples that parse."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from xlmeta_lab.cli import build_parser, main
from xlmeta_lab.data import sources
from xlmeta_lab.teaching.workbook import NOTEBOOK_DATA, NotebookRun, format_summary, run_workbook

ROOT = Path(__file__).resolve().parents[1]


def cache_holding(data_dir: Path, tmp_path: Path, keys: list[str] | None = None) -> Path:
    """A user cache that holds links to (some of) the mirror's files, laid out as the package lays it."""
    cache = tmp_path / "cache"
    for key in keys or list(sources.REGISTRY):
        relpath = sources.entry(key).relpath
        (cache / relpath).parent.mkdir(parents=True, exist_ok=True)
        (cache / relpath).symlink_to(data_dir / relpath)
    return cache


def test_data_only_in_the_user_cache_is_found(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(sources.ENV_DATA, raising=False)
    monkeypatch.setenv(sources.ENV_CACHE, str(cache_holding(data_dir, tmp_path)))
    assert sources.resolve_all() == tmp_path / "cache"


def test_missing_data_is_one_message_naming_every_file_and_tries_one_download(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(sources.ENV_DATA, raising=False)
    monkeypatch.setenv(sources.ENV_CACHE, str(cache_holding(data_dir, tmp_path, ["en_ewt-dev"])))
    attempts = []

    def offline(item: sources.DataFile, folder: Path) -> Path:
        attempts.append(item.key)
        raise sources.DataNotFoundError("no network")

    monkeypatch.setattr(sources, "_download", offline)
    with pytest.raises(sources.DataNotFoundError) as caught:
        sources.resolve_all(["en_ewt-dev", "fr_gsd-test", "fr_pud-test"])
    message = str(caught.value)
    assert (
        "2 of 3 data files" in message and "fr_gsd-ud-test.conllu" in message and "fr_pud-ud-test" in message
    )
    assert "XLMETA_DATA" in message and "xlmeta data fetch" in message
    assert attempts == ["fr_gsd-test"]  # offline: one failed download is enough to know


def test_workbook_checks_the_data_before_running_any_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(sources.ENV_DATA, str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    assert "03_en_es_to_fr" in NOTEBOOK_DATA
    assert main(["workbook", "--only", "01", "03", "--out", str(tmp_path / "build")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "fr_gsd-ud-test.conllu" in err and "xlmeta data fetch" in err
    assert not (tmp_path / "build").exists()  # not even notebook 01 ran
    with pytest.raises(ValueError, match="no notebook matches"):
        run_workbook(selection=["99"], out_dir=tmp_path / "build")


def test_a_failed_notebook_names_the_copy_that_holds_its_traceback(tmp_path: Path) -> None:
    failed = NotebookRun("03_en_es_to_fr", "FAILED", 1.0, "ValueError: " + "x" * 300, tmp_path / "03.ipynb")
    summary = format_summary([failed], "quick", tmp_path)
    assert "x" * 300 in summary  # the message is not cut
    assert f"the full traceback is in {tmp_path / '03.ipynb'}" in summary


@pytest.mark.parametrize("argv", [["--help"], ["data", "list"]])
def test_commands_that_need_no_model_do_not_import_torch(argv: list[str]) -> None:
    code = (
        "import sys\nfrom xlmeta_lab.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print('torch imported' if 'torch' in sys.modules else 'no torch')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("no torch")


def test_help_shows_every_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: toy)" in text and "(default: quick)" in text and "(default: 0)" in text


def readme_commands() -> list[str]:
    """Every ``xlmeta ...`` line of the README's shell blocks, continuation lines joined."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    text = "\n".join(blocks).replace("\\\n", " ")
    return [
        line.split("#")[0].split("&&")[0].strip() for line in text.splitlines() if line.startswith("xlmeta ")
    ]


def test_readme_examples_parse_and_name_files_that_exist(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(sources.ENV_DATA, str(data_dir))
    commands = readme_commands()
    assert any(c.startswith("xlmeta fewshot") for c in commands) and len(commands) >= 5
    parser = build_parser()
    for command in commands:
        argv = shlex.split(os.path.expandvars(command))[1:]
        args = parser.parse_args(argv)  # exits (fails the test) on an unknown option or choice
        for name in ("support", "test", "input"):
            if getattr(args, name, None) not in (None, "-"):
                assert Path(getattr(args, name)).is_file(), f"README example names a missing file: {command}"


def two_draw_result():  # type: ignore[no-untyped-def]
    from xlmeta_lab.experiments.config import ProtocolConfig
    from xlmeta_lab.experiments.protocol.results import Budget, ProtocolResult, summarise

    rows = [
        {"condition": c, "K": 5, "seed": 0, "draw": d, "test_set": "t", "accuracy": a}
        for c, accs in (("joint", (0.50, 0.60)), ("maml", (0.58, 0.69)), ("scratch", (0.2, 0.3)))
        for d, a in enumerate(accs)
    ]
    budgets = {c: Budget(0.1, 10, 0.5) for c in ("joint", "maml", "scratch")}  # choices read the holdout
    return ProtocolResult(rows, summarise(rows), budgets, ProtocolConfig(ks=(5,)))


def test_two_draws_give_means_but_no_interval_and_no_verdict() -> None:
    from xlmeta_lab.teaching.reports.udpos import quality_verdicts
    from xlmeta_lab.teaching.reports.wording import difference_headline, headline

    result = two_draw_result()
    cells = "\n".join(result.table("t").splitlines()[2:])  # below the title and the header
    assert "±" not in cells and "(n=2, no CI)" in cells
    assert headline(result, "maml", 5) == "maml 63.5%"
    assert difference_headline(result, "maml", 5) == "+8.5 pts vs joint; 2 unit(s): no interval"
    text, verdicts = quality_verdicts(result, ["maml"], [5], "t")
    assert verdicts == {} and "target not judged at K=5" in text and "MET" not in text


@pytest.mark.parametrize(("enforce", "code"), [([], 0), (["--enforce-targets"], 1)])
def test_bench_reports_targets_and_fails_on_them_only_when_asked(
    enforce: list[str], code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from xlmeta_lab.experiments.bench import engine as bench

    slow = SimpleNamespace(case="sine 1 step", passed=False, max_grad_diff=1e-8)
    monkeypatch.setattr(bench, "run_benchmark", lambda **kwargs: [slow])
    assert main(["bench", "--json", "", *enforce]) == code


def test_ctrl_c_keeps_the_last_complete_executed_notebook_and_says_what_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C mid-notebook: one line saying which notebook stopped, exit 130, and the previous executed copy
    (from an earlier, complete run) is neither replaced by a partial one nor left beside a temporary file."""
    import papermill

    out = tmp_path / "build"
    out.mkdir()
    previous = out / "01_maml_derivation.ipynb"
    previous.write_text("the last complete run")

    from xlmeta_lab.experiments.progress import ENV_PLAIN

    monkeypatch.delenv(ENV_PLAIN, raising=False)
    seen = []

    def interrupted(source: str, target: str, **_: object) -> None:
        seen.append(os.environ.get(ENV_PLAIN))
        Path(target).write_text("half a notebook")
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    assert main(["workbook", "--only", "01", "--out", str(out)]) == 130
    assert seen == ["1"] and ENV_PLAIN not in os.environ  # plain bars for the kernels only, then restored
    message = capsys.readouterr().err
    assert "stopped: interrupted while running 01_maml_derivation" in message
    assert f"the previous {previous} is kept" in message
    assert previous.read_text() == "the last complete run"
    assert [p.name for p in out.iterdir()] == [previous.name], "no partial copy left behind"
