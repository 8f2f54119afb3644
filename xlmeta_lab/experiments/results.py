"""Run provenance and result files: every number in a notebook can be traced to the run that made it.

A results file carries the configuration, the seed, the versions of Python and the libraries, the git
commit (and whether the working tree had uncommitted changes) and the time, next to the numbers. Files
are written atomically (temporary file, then ``os.replace``), so a reader never sees half a table.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_DIR = Path("results")
SCHEMA_VERSION = 1
_PACKAGES = ("xlmeta-lab", "torch", "numpy", "matplotlib")


def git_commit(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` for the repository holding ``path``."""
    cwd = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):  # not a checkout (e.g. pip-installed), or no git
        return {"commit": None, "dirty": None}
    return {"commit": sha, "dirty": bool(status.strip())}


def package_versions(packages: Sequence[str] = _PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def processor() -> dict[str, Any]:
    """The CPU the numbers were computed on, and how torch used it.

    Training is deterministic on one machine, but not across machines: torch picks its kernels by the CPU's
    vector instructions (``capability``: AVX2, AVX512, ...), which changes the order of floating-point sums. Two
    runs of the same commit and seed that disagree in the last digits are told apart by this record.
    """
    import torch  # here, not at the top: writing a results file should not need torch imported first

    model = None
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), None)  # fmt: skip
    return {
        "model": model or platform.processor() or None,
        "capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def provenance(config: Mapping[str, Any], seed: int | Sequence[int]) -> dict[str, Any]:
    """Where a result came from: config, seed(s), versions, git commit, platform, processor, workers and UTC time.

    ``workers``: the processes the run shared its units among, so a reference says how its wall time was reached
    (the numbers do not depend on it): the ``config``'s own count where it names one (a study's ``--workers``), else
    what a call that names none runs on (``$XLMETA_WORKERS``, which ``xlmeta workbook --workers`` sets for a
    notebook, capped at the cores; else 1).
    """
    from xlmeta_lab.experiments.workers import worker_count  # here: it imports torch (see processor)

    return {
        "schema_version": SCHEMA_VERSION,
        "config": dict(config),
        "seed": seed if isinstance(seed, int) else list(seed),
        "versions": package_versions(),
        "git": git_commit(),
        "platform": f"{platform.system()} {platform.machine()}",
        "processor": processor(),
        "workers": config.get("workers") or worker_count(),
        "argv": list(sys.argv),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: str | os.PathLike, payload: Mapping[str, Any]) -> Path:
    """``payload`` as indented JSON (NaN written as ``null``, which every JSON reader accepts)."""
    path = Path(path)
    _atomic_write_text(path, json.dumps(_nan_to_none(payload), indent=2, sort_keys=False) + "\n")
    return path


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Rows of dicts as CSV; the columns are the union of keys, in first-seen order."""
    path = Path(path)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _atomic_write_text(path, buffer.getvalue())
    return path


def write_results(
    name: str,
    *,
    provenance_record: Mapping[str, Any],
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    extra: Mapping[str, Any] | None = None,
    out_dir: str | os.PathLike = RESULTS_DIR,
) -> dict[str, Path]:
    """Write ``out_dir/name.json`` (provenance, extra fields, every table) and one ``name.<table>.csv`` each.

    An empty table stays in the JSON (as ``[]``: the run had nothing to put there) but gets no CSV, whose lone empty
    line would read as a file someone forgot to fill. Returns the paths by kind: ``{"json": ..., "<table>": ...}``.
    """
    out_dir = Path(out_dir)
    payload = {
        "name": name,
        "provenance": dict(provenance_record),
        **dict(extra or {}),
        **{k: list(v) for k, v in tables.items()},
    }
    paths = {"json": write_json(out_dir / f"{name}.json", payload)}
    for table, rows in tables.items():
        if rows:
            paths[table] = write_csv(out_dir / f"{name}.{table}.csv", rows)
    return paths


def read_results(path: str | os.PathLike) -> dict[str, Any]:
    """A results JSON back as a dict (for notebooks and tests that compare runs)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, Mapping):
        return {str(k): _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    return value
