"""Result files carry what is needed to trace a number back to the run, and the machine, that made it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from xlmeta_lab.experiments.results import provenance, read_results, write_results
from xlmeta_lab.experiments.workers import WORKERS_VARIABLE, available_cores


def test_provenance_names_the_processor_so_runs_on_different_cpus_can_be_told_apart(tmp_path: Path) -> None:
    record = provenance({"steps": 3}, [0, 1])
    written = write_results("run", provenance_record=record, tables={"rows": [{"a": 1}]}, out_dir=tmp_path)
    saved = read_results(written["json"])["provenance"]
    assert saved["seed"] == [0, 1] and saved["config"] == {"steps": 3}
    assert saved["processor"]["capability"] == torch.backends.cpu.get_cpu_capability()  # e.g. AVX2, AVX512
    assert saved["processor"]["threads"] == torch.get_num_threads()
    assert saved["processor"]["cuda"] is None or isinstance(saved["processor"]["cuda"], str)


def test_provenance_records_the_workers_a_run_shares_its_units_among(monkeypatch: pytest.MonkeyPatch) -> None:
    # a notebook never passes workers: xlmeta workbook --workers N reaches it as $XLMETA_WORKERS
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    assert provenance({}, 0)["workers"] == 1
    monkeypatch.setenv(WORKERS_VARIABLE, str(available_cores()))
    assert provenance({}, 0)["workers"] == available_cores()
    monkeypatch.setenv(WORKERS_VARIABLE, str(available_cores() + 1))
    with pytest.warns(UserWarning, match="running"):
        assert provenance({}, 0)["workers"] == available_cores()  # capped, as the run itself is
    monkeypatch.delenv(WORKERS_VARIABLE)
    assert provenance({"workers": 2}, 0)["workers"] == 2  # a study that passed its own --workers


def test_an_empty_table_stays_in_the_json_and_gets_no_csv(tmp_path: Path) -> None:
    # a study whose variants learned no rates wrote an empty learned_rates.csv beside its reference
    record = provenance({"steps": 3}, [0])
    written = write_results(
        "run", provenance_record=record, tables={"rows": [{"a": 1}], "learned_rates": []}, out_dir=tmp_path
    )
    assert read_results(written["json"])["learned_rates"] == []
    assert "learned_rates" not in written and not (tmp_path / "run.learned_rates.csv").exists()
    assert (tmp_path / "run.rows.csv").read_text() == "a\n1\n"
