"""What a notebook's results file must hold after a run, checked from the file and the profile alone.

A notebook that ran to the end can still have written NaN, a mislabelled condition, a row too few or a headline
that says another number than its file. These checks read the file back as a learner would, and recompute what
they compare from its per-unit rows: the grid against the one the profile's settings describe (conditions, K
values, draws, seeds), each summary mean and the printed ``KEY RESULT`` from the rows, never from the summary the
code under test wrote beside them.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from xlmeta_lab.teaching.notebook import KEY_RESULT_MARKER

#: Accuracies printed with one decimal in percent: a printed number is the file's to within half of that.
PRINTED = 0.05 + 1e-9


def snapshot(folder: Path) -> dict[Path, int]:
    """Every file under ``folder`` with its modification time, to tell afterwards which ones a run wrote."""
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} if folder.exists() else {}


def written_since(folder: Path, before: Mapping[Path, int], pattern: str) -> list[Path]:
    """The files matching ``pattern`` in ``folder`` that are new or rewritten since ``before``."""
    return sorted(p for p in folder.glob(pattern) if before.get(p) != p.stat().st_mtime_ns)


def check_provenance(record: Mapping[str, Any], profile: str, seeds: Sequence[int]) -> None:
    """The file says which profile and seeds made it: the ones the run was given."""
    provenance = record["provenance"]
    assert provenance["config"]["profile"] == profile, provenance["config"]["profile"]
    assert list(provenance["seed"]) == list(seeds), provenance["seed"]


def expected_seeds(settings: Mapping[str, Any], seed: int) -> list[int]:
    """The seeds a notebook trains: ``SEED`` and the next ``n_seeds - 1`` (its ``SEEDS`` cell)."""
    return [seed + i for i in range(settings["n_seeds"])]


def check_protocol_file(
    record: Mapping[str, Any],
    expected: Mapping[str, Sequence[int]],
    n_draws: int,
    seeds: Sequence[int],
    others_within: Sequence[int] | None = None,
) -> None:
    """The rows of a protocol run make the grid ``expected`` (each condition's K values) for every seed and test
    set, with finite accuracies that are their own ``correct / total``; each summary row is the mean of its rows.

    A K of 0 is one unit per seed and test set (nothing is drawn), every other K has ``n_draws`` draws, so there
    are ``seeds x test sets x (1 + n_draws x Ks)`` rows per condition scored at K = 0. Conditions beyond
    ``expected`` are refused, unless ``others_within`` gives the K values they may use (a notebook's baselines
    and views, named from its own settings); they must then make a full grid too.
    """
    rows = record["rows"]
    assert rows, "no rows"
    for row in rows:
        accuracy = row["accuracy"]
        assert isinstance(accuracy, float) and math.isfinite(accuracy) and 0.0 <= accuracy <= 1.0, row
        if "correct" in row:
            assert row["total"] > 0 and abs(accuracy - row["correct"] / row["total"]) < 1e-12, row
    test_sets = sorted({r["test_set"] for r in rows})
    grid: dict[str, dict[tuple[int, str], dict[int, list[int]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for r in rows:
        grid[r["condition"]][(r["seed"], r["test_set"])][r["K"]].append(r["draw"])
    assert set(expected) <= set(grid), f"conditions {sorted(grid)}, expected {sorted(expected)}"
    others = {name: sorted({k for by_k in grid[name].values() for k in by_k}) for name in grid if name not in expected}
    assert others_within is not None or not others, f"conditions beyond {sorted(expected)}: {sorted(others)}"
    assert all(set(ks) <= set(others_within or ()) for ks in others.values()), (others, others_within)
    expected = {**expected, **others}
    for name, ks in expected.items():
        assert sorted(grid[name]) == sorted((s, t) for s in seeds for t in test_sets), (name, sorted(grid[name]))
        for by_k in grid[name].values():
            assert sorted(by_k) == sorted(ks), (name, sorted(by_k), ks)
            for k, draws in by_k.items():
                assert sorted(draws) == ([0] if k == 0 else list(range(n_draws))), (name, k, draws)
    per_seed_and_test = sum(int(0 in ks) + n_draws * len([k for k in ks if k > 0]) for ks in expected.values())
    assert len(rows) == len(seeds) * len(test_sets) * per_seed_and_test
    for summary in record["summary"]:
        mine = [
            r["accuracy"]
            for r in rows
            if (r["condition"], r["K"], r["test_set"])
            == (summary["condition"], summary["K"], summary["test_set"])
        ]
        assert summary["n"] == len(mine) and abs(summary["mean"] - statistics.fmean(mine)) < 1e-12, summary


def mean_of_rows(rows: Sequence[Mapping[str, Any]], condition: str, k: int, test_set: str) -> float:
    """The mean accuracy of one condition's units at ``k`` on ``test_set``, from the rows."""
    mine = [r["accuracy"] for r in rows if (r["condition"], r["K"], r["test_set"]) == (condition, k, test_set)]
    assert mine, f"no rows of {condition!r} at K={k} on {test_set}"
    return statistics.fmean(mine)


def paired_gap_of_rows(
    rows: Sequence[Mapping[str, Any]], condition: str, baseline: str, k: int, test_set: str
) -> float:
    """The mean over shared (seed, draw) units of ``condition`` minus ``baseline``, recomputed from the rows."""
    by_unit = {
        name: {
            (r["seed"], r["draw"]): r["accuracy"]
            for r in rows
            if (r["condition"], r["K"], r["test_set"]) == (name, k, test_set)
        }
        for name in (condition, baseline)
    }
    shared = sorted(set(by_unit[condition]) & set(by_unit[baseline]))
    assert shared, f"{condition} and {baseline} share no unit at K={k} on {test_set}"
    return statistics.fmean(by_unit[condition][u] - by_unit[baseline][u] for u in shared)


def key_result(printed: str) -> str:
    """The one ``KEY RESULT`` line a notebook printed."""
    lines = [line for line in printed.splitlines() if line.startswith(KEY_RESULT_MARKER)]
    assert len(lines) == 1, f"expected one {KEY_RESULT_MARKER} line, found {lines}"
    return lines[0]


_K = re.compile(r"\bK=(\d+)")
_ACCURACY = re.compile(r"([\w@+.-]+) (\d+\.\d)%")
#: ``maml +1.1 pts vs joint`` or, after an accuracy, ``(+6.5 pts vs joint``: the gap of the condition named last.
_GAP = re.compile(r"(?:([\w@+.-]+) )?\(?([+-]\d+\.\d) pts vs ([\w@+.-]+)")


def check_key_result(line: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Every accuracy the ``KEY RESULT`` line prints (``maml 60.4%``) and its paired gap (``+6.5 pts vs
    joint``, which belongs to the condition named last before it) is the rows' own, on one of the file's test
    sets: the one the headline is about."""
    k = int(_K.search(line).group(1))  # type: ignore[union-attr]
    accuracies = [(m.start(), m.group(1), float(m.group(2))) for m in _ACCURACY.finditer(line)]
    gaps = [(m.start(), m.group(1), float(m.group(2)), m.group(3)) for m in _GAP.finditer(line)]
    assert accuracies or gaps, f"no number to check in {line!r}"
    mismatches: dict[str, list[str]] = {}
    for test_set in sorted({r["test_set"] for r in rows}):
        wrong = []
        for _, name, shown in accuracies:
            if abs(100 * mean_of_rows(rows, name, k, test_set) - shown) > PRINTED:
                wrong.append(f"{name} {shown}% at K={k}")
        for where, owner, shown, baseline in gaps:
            name = owner or [name for start, name, _ in accuracies if start < where][-1]
            if abs(100 * paired_gap_of_rows(rows, name, baseline, k, test_set) - shown) > PRINTED:
                wrong.append(f"{name} {shown:+} pts vs {baseline}")
        if not wrong:
            return
        mismatches[test_set] = wrong
    raise AssertionError(f"{line!r} is not what its file's rows give: {mismatches}")


def read_record(path: Path) -> dict[str, Any]:
    """A results file's JSON, as written."""
    return json.loads(path.read_text(encoding="utf-8"))
