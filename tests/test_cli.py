"""The command line: its parser, the workbook summary, and one benchmark case (correctness, not speed)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from compilers import make_torch_compile_fail, needs_cxx

from xlmeta_lab.cli import build_parser, main
from xlmeta_lab.experiments.bench import cases, run_case, select_cases
from xlmeta_lab.teaching.notebook import KEY_RESULT_MARKER
from xlmeta_lab.teaching.workbook import NotebookRun, format_summary, key_result_of


def test_parser_knows_every_command() -> None:
    parser = build_parser()
    for argv in (["workbook", "--profile", "full"], ["bench", "--repeats", "3"], ["data", "list"]):
        assert callable(parser.parse_args(argv).func)
    with pytest.raises(SystemExit):
        parser.parse_args(["workbook", "--profile", "huge"])


def test_key_result_is_read_back_from_an_executed_notebook(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(...)")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"noise\n{KEY_RESULT_MARKER} max |diff| 3e-16\n")
    ]
    notebook.cells.append(cell)
    path = tmp_path / "01_x.ipynb"
    nbformat.write(notebook, path)
    assert key_result_of(path) == "max |diff| 3e-16"
    summary = format_summary([NotebookRun("01_x", "ok", 1.5, "max |diff| 3e-16")], "quick", tmp_path)
    assert "01_x" in summary and "1 ok, 0 failed" in summary


def first_case(name: str, method: str, compile: bool = False):
    return next(c for c in cases() if (c.name, c.method, c.compile) == (name, method, compile))


@pytest.mark.parametrize(
    "case",
    [
        first_case("sine 1 step", "maml"),
        pytest.param(first_case("sine 1 step", "fomaml", compile=True), marks=needs_cxx),
        first_case("lstm tagger", "fomaml"),
    ],
    ids=lambda c: f"{c.name}-{c.method}{'-compiled' if c.compile else ''}",
)
def test_benchmark_engine_and_plain_loop_agree(case) -> None:
    row = run_case(case, repeats=1)
    assert row.max_grad_diff <= 1e-5
    assert row.engine_steps_per_s > 0 and row.loop_steps_per_s > 0
    assert row.path == {"sine": "vmap", "lstm": "loop"}[case.name.split()[0]] + (
        "+compile" if case.compile else ""
    )
    assert (row.speedup_over_eager is not None) == case.compile  # only compiled rows compare with eager


def test_data_verify_command_checks_the_mirror(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "verify", "--data-dir", str(data_dir)]) == 0
    from xlmeta_lab.data.sources import REGISTRY

    assert f"{len(REGISTRY)}/{len(REGISTRY)} files OK" in capsys.readouterr().out


def test_bench_selects_cases_by_name_and_refuses_an_unknown_one(capsys: pytest.CaptureFixture[str]) -> None:
    chosen = select_cases(["lstm"], compiled=False)
    assert {(c.name, c.method) for c in chosen} == {("lstm tagger", "maml"), ("lstm tagger", "fomaml")}
    assert any(c.compile for c in select_cases(["sine"])) and not any(
        c.compile for c in select_cases(compiled=False)
    )
    assert main(["bench", "--only", "transformer", "--json", ""]) == 2
    assert "the cases are: conv tagger, lstm tagger, sine 1 step, sine 5 step" in capsys.readouterr().err


def test_bench_says_when_a_compiled_row_ran_eagerly(monkeypatch: pytest.MonkeyPatch) -> None:
    make_torch_compile_fail(monkeypatch)
    with pytest.warns(UserWarning, match="torch.compile could not run"):
        row = run_case(first_case("sine 1 step", "fomaml", compile=True), repeats=1)
    assert row.path == "vmap+eager(!)" and row.max_grad_diff <= 1e-5
