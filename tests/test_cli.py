"""The command line: its parser, the workbook summary, and one benchmark case (correctness, not speed)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import torch
from compilers import make_torch_compile_fail, needs_cxx

from xlmeta_lab.cli import build_parser, main
from xlmeta_lab.experiments.bench import memory as bench_memory
from xlmeta_lab.experiments.bench.engine import cases, run_benchmark, run_case, select_cases
from xlmeta_lab.experiments.bench.memory import (
    MemoryRow,
    format_memory_table,
    memory_rows,
    second_order_growth,
)
from xlmeta_lab.experiments.bench.waits import Wait, format_waits, time_waits
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


def test_bench_memory_rows_say_how_they_were_measured_and_check_that_maml_grows() -> None:
    """How large the peaks are is the bench's to print (a test's allocator numbers move with the machine's load);
    the table must say how it measured, and carry the check that second-order MAML grows with inner steps."""
    meter, rows = memory_rows(torch.device("cpu"), methods=("maml", "fomaml"), pairs=[(1, 2), (4, 2)])
    table = format_memory_table(meter, rows, torch.device("cpu"))
    assert f"measured as: {meter.description}" in table and "4 steps, 2 tasks" in table
    if meter.peak_bytes is None:
        pytest.skip(meter.description)
    assert "resident set" in meter.description  # a Linux CPU: the resident set, not tracemalloc
    assert "check: maml at 4 inner steps takes" in table


def test_the_memory_check_compares_maml_at_its_most_inner_steps_with_one_step() -> None:
    def rows(*peaks: tuple[int, int, float]) -> list[MemoryRow]:
        return [MemoryRow("maml", s, t, "vmap", mib) for s, t, mib in peaks] + [MemoryRow("fomaml", 4, 4, "vmap", 1.0)]

    grown = second_order_growth(rows((1, 2, 9.0), (1, 4, 10.0), (2, 4, 14.0), (4, 4, 25.0)))
    assert grown == (
        "check: maml at 4 inner steps takes 2.50x its 1-step peak (4 tasks), as expected >= 1.3x "
        "(second order keeps every inner step's graph)"
    )
    flat = second_order_growth(rows((1, 4, 10.0), (4, 4, 11.0)))
    assert flat is not None and "1.10x" in flat and "BELOW the expected >= 1.3x" in flat
    assert second_order_growth(rows((1, 4, 10.0), (1, 8, 30.0))) is None  # no inner-step pair: nothing to say
    assert second_order_growth(rows((1, 4, None), (4, 4, None))) is None  # not measured


def test_every_wait_the_bench_times_runs() -> None:
    """``xlmeta bench`` times the notebooks' waits: each must run as the bench calls it (an open exercise's
    check, which needs the learner's measurements, is not one of them)."""
    from xlmeta_lab.cli.main import _learner_waits

    waits = _learner_waits()
    assert waits[0].name.startswith("toy languages") and any("02.1" in w.name for w in waits)
    for wait in waits:
        wait.run()


def test_bench_times_what_a_learner_waits_for(capsys: pytest.CaptureFixture[str]) -> None:
    rows = time_waits([Wait("nothing", lambda: print("a check's verdict"), 1.0)], repeats=2)
    assert capsys.readouterr().out == ""  # what the timed code prints is not the bench's output
    assert [(r.name, r.budget_s) for r in rows] == [("nothing", 1.0)]
    assert rows[0].fastest_s <= rows[0].median_s <= rows[0].slowest_s
    table = format_waits(rows, 2)
    assert "median of 2" in table and table.splitlines()[-1].startswith("nothing")


def test_bench_prints_and_writes_its_memory_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench_memory, "grid", lambda: [(1, 2)])  # one small column keeps the test short
    out = tmp_path / "bench.json"
    run_benchmark(
        1,
        only=["sine 1 step"],
        compiled=False,
        out=out,
        memory_device=torch.device("cpu"),
        waits=[Wait("nothing", lambda: None, 1.0)],
    )
    printed = capsys.readouterr().out
    assert "peak memory of one meta-step" in printed and "waits a learner sits through" in printed
    assert [w["name"] for w in json.loads(out.read_text())["waits"]] == ["nothing"]
    memory = json.loads(out.read_text())["memory"]
    assert memory["device"] == "cpu" and memory["measured_as"]
    assert [(r["method"], r["inner_steps"], r["tasks"]) for r in memory["rows"]] == [
        ("maml", 1, 2),
        ("fomaml", 1, 2),
        ("reptile", 1, 2),
    ]


def test_bench_protocol_ways_fine_tune_to_the_loops_weights_and_print_each() -> None:
    """``xlmeta bench --protocol``'s ways compute the same fine-tuning (its table says how fast each is)."""
    from xlmeta_lab.data.toy import make_toy_languages
    from xlmeta_lab.episodes.encoders import WordCharEncoder
    from xlmeta_lab.episodes.vocab import Vocab
    from xlmeta_lab.experiments.bench.protocol import WAYS, format_rows, time_protocol
    from xlmeta_lab.models.tagger import Tagger, TaggerConfig

    french = make_toy_languages({"en": 1, "es": 1, "fr": 120}, seed=0)["fr"]
    vocab = Vocab.build(french)
    torch.manual_seed(0)
    model = Tagger(TaggerConfig(17, vocab.n_words, vocab.n_chars, 8, 8, 8, 16))
    rows = time_protocol(model, french, WordCharEncoder(vocab, 8), [5, 20], n_draws=2, steps=3, lr=0.3, repeats=1)
    assert [r.k for r in rows] == [5, 20] and all(set(r.seconds) == set(WAYS) for r in rows)
    assert all(r.max_weight_diff < 1e-5 for r in rows)
    table = format_rows(rows, n_draws=2, steps=3)
    assert all(way in table for way in WAYS) and "spelled" in table.splitlines()[-1]
