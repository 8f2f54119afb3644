"""What a run of the few-shot protocol gives back: the chosen budgets, a row per unit, their summary with paired
differences, and the files they are written to and read back from (a committed reference run, for instance).

:mod:`xlmeta_lab.experiments.protocol.run` produces these; the notebooks, the command line and the studies read them.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlmeta_lab.experiments.config import ProtocolConfig
from xlmeta_lab.experiments.protocol.stats import MIN_UNITS_FOR_INTERVAL, crossed_ci, crossed_difference, holm
from xlmeta_lab.experiments.results import provenance, read_results, write_csv, write_json, write_results


@dataclass(frozen=True)
class Budget:
    """The fine-tuning budget a condition gets, and the holdout accuracy that chose it.

    ``grid`` keeps what the choice was made from, ``{(lr, steps): [holdout accuracy per draw]}``. The protocol's
    cache keeps it (:meth:`to_record`); results files do not, so a result read back from one has none.
    """

    lr: float
    steps: int
    holdout_acc: float
    grid: Mapping[tuple[float, int], Sequence[float]] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """What a results file keeps: the budget and its holdout accuracy."""
        return {"lr": self.lr, "steps": self.steps, "holdout_acc": self.holdout_acc}

    def to_record(self) -> dict[str, Any]:
        """The budget with its grid, as JSON can hold it (for the protocol's cache)."""
        grid = [[lr, steps, list(scores)] for (lr, steps), scores in self.grid.items()]
        return {**self.to_dict(), "grid": grid}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Budget:
        """A budget back from :meth:`to_record`, its grid included."""
        grid = {(lr, steps): tuple(scores) for lr, steps, scores in record["grid"]}
        return cls(record["lr"], record["steps"], record["holdout_acc"], grid)


def best_budget(scores: Mapping[tuple[float, int], Sequence[float]]) -> tuple[float, int]:
    """The ``(lr, steps)`` with the best mean accuracy; ties go to the smaller lr, then to fewer steps (the
    cheaper budget), so the choice is deterministic whatever order the grid was scored in."""
    return max(scores, key=lambda key: (statistics.fmean(scores[key]), -key[0], -key[1]))


def score_row(
    condition: str,
    k: int,
    seed: int,
    draw: int,
    test_set: str,
    counts: tuple[int, int],
    lr: float | None,
    steps: int | None,
) -> dict[str, Any]:
    """One (condition, K, seed, draw, test set) row of a results file: every scorer writes this one shape, so
    summaries, caches and the notebook tests read any condition's rows (a baseline's C stands where ``lr`` is)."""
    correct, total = counts
    return {
        "condition": condition,
        "K": k,
        "seed": seed,
        "draw": draw,
        "test_set": test_set,
        "accuracy": correct / total,
        "correct": correct,
        "total": total,
        "lr": lr,
        "steps": steps,
    }


def accuracy_label(protocol: ProtocolConfig) -> str:
    """What the protocol's accuracy counts, for tables and plots."""
    return "sentence accuracy" if protocol.k_per_class else "token accuracy"


@dataclass
class ProtocolResult:
    """Per-unit ``rows``, per (condition, K, test set) ``summary``, and the chosen ``budgets``."""

    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    budgets: dict[str, Budget]
    protocol: ProtocolConfig
    paths: dict[str, Path] = field(default_factory=dict)
    #: Where a result read back from its file came from (config, seeds, versions, git commit).
    provenance: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | Path) -> ProtocolResult:
        """A result written by :func:`write_protocol_results`, back from its JSON (e.g. a committed reference).

        JSON has no NaN, so the writer stored missing intervals as ``null``; they come back as ``nan``.
        """
        record = read_results(path)
        saved = record["provenance"]["config"]["protocol"]
        protocol = ProtocolConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
        budgets = {name: Budget(**budget) for name, budget in record.get("budgets", {}).items()}
        summary = [{k: math.nan if v is None else v for k, v in row.items()} for row in record["summary"]]
        return cls(record["rows"], summary, budgets, protocol, {"json": Path(path)}, record["provenance"])

    def get(self, condition: str, k: int, test_set: str | None = None) -> dict[str, Any]:
        """The summary row of one condition at one K (first test set unless named)."""
        test_set = test_set or self.summary[0]["test_set"]
        for row in self.summary:
            if row["condition"] == condition and row["K"] == k and row["test_set"] == test_set:
                return row
        raise KeyError(f"no result for condition={condition!r}, K={k}, test_set={test_set!r}")

    def holdout_accuracy(self, name: str) -> float:
        """The French holdout accuracy of ``name`` at its chosen budget (mean over seeds, Ks and draws): the one
        number the protocol may choose a condition by, since the test sets never saw a choice."""
        if name not in self.budgets:
            raise KeyError(f"{name!r} has no budget in this result, so no holdout accuracy to choose it by")
        return self.budgets[name].holdout_acc

    def best_on_holdout(self, names: Sequence[str]) -> str:
        """Of ``names``, the condition with the best French holdout accuracy (ties: the first named). Every "best
        condition" the workbook goes on to report or deploy is chosen here, never by a test score."""
        if not names:
            raise ValueError("no conditions to choose from")
        return max(names, key=lambda name: (self.holdout_accuracy(name), -list(names).index(name)))

    def subset(self, names: Sequence[str], baseline: str) -> ProtocolResult:
        """The rows of ``names`` alone, summarised against ``baseline`` (its own Holm family): e.g. the
        negative-transfer part of a results file that holds it beside the main protocol."""
        rows = [r for r in self.rows if r["condition"] in names]
        if not rows:
            raise KeyError(f"no rows of {list(names)} in this result")
        budgets = {n: b for n, b in self.budgets.items() if n in names}
        return ProtocolResult(
            rows, summarise(rows, baseline), budgets, self.protocol, provenance=self.provenance
        )

    def table(self, test_set: str | None = None) -> str:
        """A plain-text table: mean accuracy ± 95% CI half-width per condition and K, in percent."""
        test_set = test_set or self.summary[0]["test_set"]
        rows = [r for r in self.summary if r["test_set"] == test_set]
        conditions = list(dict.fromkeys(r["condition"] for r in rows))
        ks = sorted({r["K"] for r in rows})
        width, name_width = 20, max(len(n) for n in ["condition", *conditions]) + 1
        what = accuracy_label(self.protocol)
        per = " (K per class)" if self.protocol.k_per_class else ""
        lines = [f"{what} on {test_set}, % (mean ± 95% CI half-width, crossed seeds x draws){per}"]
        lines.append("condition".ljust(name_width) + "".join(f"K={k}".rjust(width) for k in ks))
        for name in conditions:
            cells = []
            for k in ks:
                match = [r for r in rows if r["condition"] == name and r["K"] == k]
                cells.append(_cell(match[0]) if match else "")
            lines.append(name.ljust(name_width) + "".join(c.rjust(width) for c in cells))
        return "\n".join(lines)


def _cell(row: Mapping[str, Any]) -> str:
    if math.isnan(row["ci_low"]) or row["n"] < MIN_UNITS_FOR_INTERVAL:
        return f"{100 * row['mean']:.1f} (n={row['n']}, no CI)"
    return f"{100 * row['mean']:.1f} ± {100 * (row['ci_high'] - row['mean']):.1f} (n={row['n']})"


def summarise(
    rows: Sequence[Mapping[str, Any]], baseline: str | None = "joint", by: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Mean and 95% CI per (condition, K, test set), with the paired difference to ``baseline``.

    Both intervals are the crossed seeds x draws ones (:func:`~xlmeta_lab.experiments.protocol.stats.crossed_ci`),
    with their Satterthwaite df (``df``, ``diff_df``). The difference pairs units with the same (seed, draw) at the
    same K and test set; conditions without the baseline's units get ``nan``. ``diff_p`` is the two-sided p-value of
    "no difference"; ``diff_p_holm`` is it after Holm's correction over the family of every paired difference on
    the same test set (all conditions x K of its table, ``holm_family`` of them), which is what a verdict reads.

    ``by``: more row fields that split a condition's units (e.g. ``("steps", "rule")`` for the protocol along the
    step budget): a summary row per value, paired with the baseline's units at the same value, one Holm family.
    """
    groups: dict[tuple[Any, ...], dict[tuple[int, int], float]] = defaultdict(dict)
    for r in rows:
        split = tuple(r[f] for f in by)
        groups[(r["condition"], r["K"], r["test_set"], *split)][(r["seed"], r["draw"])] = r["accuracy"]
    summary = []
    for (name, k, test_set, *split), units in groups.items():
        ci = crossed_ci(units)
        row = {
            "condition": name,
            "K": k,
            "test_set": test_set,
            **dict(zip(by, split)),
            "mean": ci.mean,
            "ci_low": ci.low,
            "ci_high": ci.high,
            "n": ci.n,
        }
        base = groups.get((baseline, k, test_set, *split), {}) if baseline else {}
        shared = set(units) & set(base)
        diff = crossed_difference(units, base) if shared and name != baseline else None
        nan = math.nan
        row.update(
            {
                "baseline": baseline,
                "diff": diff.mean if diff else nan,
                "diff_low": diff.low if diff else nan,
                "diff_high": diff.high if diff else nan,
                "df": ci.df,
                "diff_df": diff.df if diff else nan,
                "diff_p": diff.p_value if diff and diff.n >= MIN_UNITS_FOR_INTERVAL else nan,
            }
        )
        summary.append(row)
    for test_set in dict.fromkeys(r["test_set"] for r in summary):
        family = [r for r in summary if r["test_set"] == test_set]
        tested = sum(not math.isnan(r["diff_p"]) for r in family)
        for row, adjusted in zip(family, holm([r["diff_p"] for r in family])):
            row.update(diff_p_holm=adjusted, holm_family=tested)
    return summary


def write_protocol_results(
    result: ProtocolResult,
    name: str,
    *,
    config: Mapping[str, Any],
    seeds: Sequence[int],
    out_dir: str | Path = "results",
    tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> dict[str, Path]:
    """``out_dir/name.json`` (provenance, protocol, budgets, summary, rows) and CSVs of summary and rows;
    ``tables``, a study's own (e.g. its comparisons), come first in the JSON and get a CSV each too."""
    record = provenance({**dict(config), "protocol": result.protocol.to_dict()}, list(seeds))
    result.paths = write_results(
        name,
        provenance_record=record,
        tables={**dict(tables or {}), "summary": result.summary, "rows": result.rows},
        extra={"budgets": {k: v.to_dict() for k, v in result.budgets.items()}},
        out_dir=out_dir,
    )
    return result.paths


def resummarise(
    path: str | Path, tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None
) -> ProtocolResult:
    """Recompute a results file's summary from its rows with :func:`summarise` and write it back in place (the
    JSON's ``summary`` and ``<name>.summary.csv``; ``tables``, a study's own recomputed tables, likewise), against
    the baseline the file was summarised with. Rows, budgets and provenance stay as they were: this is how a
    committed reference run is re-read with new statistics without being retrained."""
    path = Path(path)
    record = read_results(path)
    baseline = record["summary"][0].get("baseline") or None if record["summary"] else None
    updated = {"summary": summarise(record["rows"], baseline), **dict(tables or {})}
    for table, rows in updated.items():
        record[table] = list(rows)
        write_csv(path.with_name(f"{path.stem}.{table}.csv"), rows)
    write_json(path, record)
    return ProtocolResult.read(path)


def merge_results(results: Sequence[ProtocolResult], baseline: str | None = None) -> ProtocolResult:
    """One result from several protocol runs over the same French splits and draws (e.g. initialisations
    trained on different language sets, which need their own vocabularies); condition names must differ."""
    rows = [r for result in results for r in result.rows]
    budgets = {k: v for result in results for k, v in result.budgets.items()}
    protocol = results[0].protocol
    return ProtocolResult(rows, summarise(rows, baseline or protocol.baseline), budgets, protocol)
