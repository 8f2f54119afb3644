"""The README's findings are the committed references' own sentences: a reference that changes, or a README edited by
hand, fails here until `python -m xlmeta_lab.teaching.reports.findings` is run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from xlmeta_lab.teaching.notebook import reference_dir
from xlmeta_lab.teaching.reports.findings import (
    CURVE,
    FINDINGS_BEGIN,
    FINDINGS_END,
    INNER_LOOPS,
    PROTOCOL,
    TOPICS,
    findings_block,
    write_findings,
)
from xlmeta_lab.teaching.runtime_docs import readme_block

ROOT = Path(__file__).resolve().parents[1]


def test_readme_findings_are_the_ones_the_committed_references_give() -> None:
    written = readme_block((ROOT / "README.md").read_text(encoding="utf-8"), FINDINGS_BEGIN, FINDINGS_END)
    assert written == findings_block(reference_dir()), (
        "the README's findings differ from the committed references: run "
        "`python -m xlmeta_lab.teaching.reports.findings` instead of editing them"
    )


def test_findings_lead_with_the_regime_and_name_its_end() -> None:
    block = findings_block(reference_dir())
    lines = block.splitlines()
    assert "fast" in lines[1] and "holdout" in lines[1]
    assert sum(line.startswith("- K=") for line in lines) == 3  # one per K of the curve
    assert "The slow end" in block and "400 steps" in block  # where the edge is judged today's way
    inner = next(line for line in lines if line.startswith("- Inner loops matched to the budget"))
    assert inner.count("after 25 steps") == 2 and "against one inner step" in inner  # K = 5 and 20, each its verdict


def _references_in(folder: Path) -> Path:
    for name in (CURVE, PROTOCOL, INNER_LOOPS, TOPICS):
        shutil.copy(reference_dir() / name, folder / name)
    return folder


def test_a_changed_reference_changes_the_findings(tmp_path: Path) -> None:
    folder = _references_in(tmp_path)
    before = findings_block(folder)
    record = json.loads((folder / CURVE).read_text())
    row = next(
        r for r in record["summary"]
        if (r["condition"], r["K"], r["steps"], r["rule"], r["test_set"]) == ("maml", 5, 2, "holdout", "fr_gsd-test")
    )  # fmt: skip
    row["diff"] += 0.05  # five points more lead after two steps
    (folder / CURVE).write_text(json.dumps(record))
    after = findings_block(folder)
    assert after != before and "+9.4" in after


def test_write_findings_rewrites_only_the_block_and_needs_its_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{FINDINGS_BEGIN}\nstale numbers\n{FINDINGS_END}\n\n## after\n")
    assert write_findings(readme, reference_dir())
    text = readme.read_text()
    assert text.startswith("# title\n") and text.endswith("## after\n") and "stale numbers" not in text
    assert not write_findings(readme, reference_dir())  # already up to date
    readme.write_text("# no block here\n")
    with pytest.raises(ValueError, match="no generated block"):
        write_findings(readme, reference_dir())


def test_the_topics_paragraph_says_which_conditions_clear_the_majority_topic(tmp_path: Path) -> None:
    folder = _references_in(tmp_path)
    record = json.loads((folder / TOPICS).read_text())
    at_k4 = {row["condition"]: row for row in record["summary"] if row["K"] == 4}

    def paragraph() -> str:
        (folder / TOPICS).write_text(json.dumps(record))
        return next(line for line in findings_block(folder).splitlines() if "sentence topics" in line)

    assert "tfidf-source+fr 56.9% [55.4, 58.4]" in paragraph()  # the calibration baseline, from the committed rows
    for name in at_k4:  # every neural condition's interval reaching down to 20%: none clears the majority topic
        if not name.startswith("tfidf"):
            at_k4[name]["ci_low"] = 0.20
    text = paragraph()
    assert "whole interval: no neural condition; the calibration baselines" in text
    assert "Joint training, the baseline: joint" in text and text.endswith("A result at chance, reported as one: "
                                                                           "notebook 04 teaches how to diagnose it.")
    at_k4["joint"]["ci_low"] = 0.27  # joint clears it, no meta-learner does
    text = paragraph()
    assert "whole interval: joint " in text and "Joint training, the baseline" not in text
    assert "No meta-learner clears the majority topic" in text
    at_k4["fomaml"].update(mean=0.45, ci_low=0.41, ci_high=0.49)  # as if FOMAML had cleared it
    text = paragraph()
    assert "whole interval: joint " in text and "fomaml 45.0% [41.0, 49.0]" in text
    assert text.endswith("A meta-learner clears the majority topic here: read it against joint above.")
