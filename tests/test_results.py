"""Result files carry what is needed to trace a number back to the run, and the machine, that made it."""

from __future__ import annotations

from pathlib import Path

import torch

from xlmeta_lab.experiments.results import provenance, read_results, write_results


def test_provenance_names_the_processor_so_runs_on_different_cpus_can_be_told_apart(tmp_path: Path) -> None:
    record = provenance({"steps": 3}, [0, 1])
    written = write_results("run", provenance_record=record, tables={"rows": [{"a": 1}]}, out_dir=tmp_path)
    saved = read_results(written["json"])["provenance"]
    assert saved["seed"] == [0, 1] and saved["config"] == {"steps": 3}
    assert saved["processor"]["capability"] == torch.backends.cpu.get_cpu_capability()  # e.g. AVX2, AVX512
    assert saved["processor"]["threads"] == torch.get_num_threads()
    assert saved["processor"]["cuda"] is None or isinstance(saved["processor"]["cuda"], str)
