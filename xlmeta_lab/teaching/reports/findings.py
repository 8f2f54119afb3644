"""The README's "What the workbook finds", written from the committed full references, never typed by hand.

The workbook's sharpest true finding is a *regime*: a meta-learned initialisation is ahead of joint training after a
few fine-tuning steps and not after many. Its clearest negative one sits beside it: on sentence topics (notebook 04)
every meta-learner stays below joint training and the majority topic, and a plain TF-IDF baseline far above both.
A summary typed by hand would
drift from the reference it quotes (and the headline before this block said the opposite: "meta-learning barely
matters", read after 400 steps only), so the block is generated from the same files and sentence functions
notebooks 03 and 04 print, and a test fails when the README's copy differs from what the committed references say
today.

Write it after a reference changes::

    python -m xlmeta_lab.teaching.reports.findings
"""

from __future__ import annotations

from pathlib import Path

from xlmeta_lab.data.sib200 import load_labels, load_sib200
from xlmeta_lab.experiments.protocol.budget_curve import CurveResult, read_curve
from xlmeta_lab.experiments.protocol.results import ProtocolResult
from xlmeta_lab.experiments.studies.topic_baseline import SOURCE_ONLY, WITH_FRENCH
from xlmeta_lab.teaching.reports.inner_loops import STRETCH, longer_loops_line, stretch_verdict
from xlmeta_lab.teaching.reports.regime import far_end_line, goal_lines, regime_sentence
from xlmeta_lab.teaching.reports.topics import accuracy_text, chance_levels, chance_verdict
from xlmeta_lab.teaching.reports.wording import judged, paired_text
from xlmeta_lab.teaching.runtime_docs import replace_readme_block

FINDINGS_BEGIN = (
    "<!-- findings: generated from the committed references in xlmeta_lab/reference by "
    "`python -m xlmeta_lab.teaching.reports.findings` -->"
)
FINDINGS_END = "<!-- end of findings -->"
#: Notebook 03's references: the protocol along the adaptation budget, and the protocol at its own (slow) budget.
CURVE = "03_en_es_to_fr-full-curve.json"
PROTOCOL = "03_en_es_to_fr-full.json"
#: ... and its inner-loop study: meta-learners trained through the test-time budget's steps.
INNER_LOOPS = "03_en_es_to_fr-full-inner-loops.json"
TEST_SET = "fr_gsd-test"
#: notebook 03's goal for the regime (points of MAML - joint, significant, within ``GOAL_STEPS`` steps)
GOAL = {5: 3.0, 20: 2.0}
GOAL_STEPS = 10
#: Notebook 04's reference and the K (French sentences per topic) its lesson is judged at.
TOPICS = "04_sentence_topics-full.json"
TOPICS_K = 4
TOPICS_TARGET = "fr"


def topics_paragraph(result: ProtocolResult, test_labels: list[str], n_topics: int) -> str:
    """Notebook 04's verdict at :data:`TOPICS_K`: which conditions clear the majority topic with their whole interval
    (the calibration baselines named apart), and each meta-learner against joint, paired."""
    test_set = next(r["test_set"] for r in result.summary)
    uniform, majority, _ = chance_levels(test_labels, n_topics)
    rows = {r["condition"]: r for r in result.summary if r["K"] == TOPICS_K and r["test_set"] == test_set}
    calibration = [n for n in (SOURCE_ONLY, WITH_FRENCH) if n in rows]
    above = [n for n in rows if chance_verdict(rows[n], uniform, majority) == "above the majority topic"]
    neural_above = [n for n in above if n not in calibration]
    calibration_above = [n for n in above if n in calibration]

    def accuracy(name: str) -> str:
        return f"{name} {accuracy_text(rows[name])}"

    # the meta-learners are the run's own methods but joint (as notebook 04 names them), each paired with joint
    metas = [m for m in result.provenance["config"]["settings"]["methods"] if m != "joint" and m in rows]
    versus = [
        f"{n} {paired_text(rows[n])}" + (" (Holm)" if judged(rows[n]) in ("up", "down") else "")
        for n in metas if rows[n].get("baseline") == "joint"
    ]  # fmt: skip
    if any(m in neural_above for m in metas):
        verdict = "A meta-learner clears the majority topic here: read it against joint above."
    elif neural_above:
        verdict = (
            "No meta-learner clears the majority topic: for them a result at chance, reported as one; notebook 04 "
            "teaches how to diagnose it."
        )
    else:
        verdict = "A result at chance, reported as one: notebook 04 teaches how to diagnose it."
    cleared = ", ".join(accuracy(n) for n in neural_above) or "no neural condition"
    if calibration_above:
        cleared += f"; the calibration baselines {', '.join(accuracy(n) for n in calibration_above)}"
        cleared += "" if neural_above else " do"
    baseline = "" if "joint" in neural_above else f"Joint training, the baseline: {accuracy('joint')}. "
    seeds = result.provenance["seed"]
    return (
        "**Where it does not: sentence topics.** SIB-200 7-way topics, English + Spanish -> French (notebook 04, "
        f"`{TOPICS.removesuffix('.json')}`: {len(seeds)} training seeds x {result.protocol.n_draws} draws, "
        f"K={TOPICS_K} French sentences per topic, {test_set}; majority topic {100 * majority:.1f}%, 1/N "
        f"{100 * uniform:.1f}%). Above the majority topic with the whole interval: {cleared}. {baseline}"
        f"Each meta-learner against joint, paired (points, Holm-corrected verdicts marked): {'; '.join(versus)}. "
        + verdict
    )


def inner_loops_line(inner: CurveResult) -> str:
    """Whether meta-training through the test-time budget widens the regime: per K, the stretch goal (a lead kept
    after many steps) and the variants that differ from their method's one-step training."""
    test_set = inner.rows[0]["test_set"]
    target, at = STRETCH
    per_k = []
    for k in inner.settings.ks:
        lead = ""
        if found := stretch_verdict(inner, test_set, k):
            verdict, best, row = found
            lead = (
                f"a lead >= {target:g} points after {at} steps {verdict} (best on the holdout there: {best}, "
                f"{paired_text(row)}); "
            )
        per_k.append(f"K={k}: {lead}against one inner step: {longer_loops_line(inner, test_set, k)}")
    return (
        f"Inner loops matched to the budget (`{INNER_LOOPS.removesuffix('.json')}`: "
        f"{len(inner.provenance['seed'])} training seeds x {inner.protocol.n_draws} draws, {test_set}; variants "
        f"{', '.join(inner.provenance['config']['variants'])}, each budget its rate on the holdout). "
        + ". ".join(per_k)
    )


def findings_block(reference: Path) -> str:
    """The README's findings, markers included, from the committed references in ``reference``."""
    curve = read_curve(reference / CURVE)
    protocol = ProtocolResult.read(reference / PROTOCOL)
    metas = [
        m for m in curve.provenance["config"]["settings"]["curve_methods"] if m != curve.protocol.baseline
    ]
    seeds, protocol_seeds = curve.provenance["seed"], protocol.provenance["seed"]
    lines = [
        FINDINGS_BEGIN,
        "**What the workbook finds: meta-learning buys *fast* adaptation.** English + Spanish -> French UPOS tagging "
        f"(notebook 03, `{CURVE.removesuffix('.json')}`: {len(seeds)} training seeds x {curve.protocol.n_draws} "
        f"draws, {TEST_SET}). Each budget of fine-tuning steps gets its own learning rate, chosen on the French "
        f"holdout for every condition; the best meta-learner ({', '.join(metas)}) is the holdout's at each budget; "
        "differences are paired with joint training at the same budget, 95% intervals over seeds x draws, and "
        "Holm's correction over the whole curve:",
        "",
    ]
    lines += [f"- {regime_sentence(curve, metas, k, TEST_SET)}" for k in curve.settings.ks]
    lines += [
        f"- Goal of notebook 03 (within {GOAL_STEPS} steps): "
        + "; ".join(goal_lines(curve, metas, TEST_SET, GOAL, GOAL_STEPS).splitlines()),
        f"- The slow end ({len(protocol_seeds)} training seeds, `{PROTOCOL.removesuffix('.json')}`): "
        + far_end_line(protocol, metas, curve.settings.ks, TEST_SET),
        f"- {inner_loops_line(read_curve(reference / INNER_LOOPS))}",
        "",
        "Read each lead with where it ends: the budget is part of the claim. `xlmeta_lab/reference/README.md` has the "
        "runs behind these lines and what was tried before them.",
        "",
        topics_paragraph(
            ProtocolResult.read(reference / TOPICS),
            [e.label for e in load_sib200(TOPICS_TARGET, "test")],
            len(load_labels(TOPICS_TARGET)),
        ),
        FINDINGS_END,
    ]
    return "\n".join(lines)


def write_findings(readme: Path, reference: Path) -> bool:
    """Rewrite the README's findings block; True when it changed."""
    return replace_readme_block(readme, findings_block(reference), FINDINGS_BEGIN, FINDINGS_END)


def main() -> None:
    from xlmeta_lab.teaching.notebook import reference_dir

    readme = Path(__file__).resolve().parents[3] / "README.md"
    changed = write_findings(readme, reference_dir())
    print(f"{readme}: {'rewritten' if changed else 'already up to date'}")


if __name__ == "__main__":
    main()
