"""The transfer analysis: source-language roles, similarity measures, gradient alignment and compute saved,
each checked on small cases whose answer is known by hand."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch import nn

from xlmeta_lab.data import roles
from xlmeta_lab.data import similarity as sim
from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.experiments.studies import savings
from xlmeta_lab.meta import alignment, meta_gradient
from xlmeta_lab.teaching.reports import transfer as report


def test_every_source_language_trains_on_dev_and_test_and_french_is_never_a_source() -> None:
    assert "fr" not in roles.SOURCE_TREEBANKS
    for lang, keys in roles.SOURCE_TREEBANKS.items():
        assert keys == tuple(k for k in keys if k.startswith(lang)) and len(keys) == 2
        assert {k.rsplit("-", 1)[1] for k in keys} == {"dev", "test"}
    with pytest.raises(ValueError, match="target language"):
        roles.source_treebanks(["en", "fr"])
    with pytest.raises(ValueError, match="no source treebank for 'xx'"):
        roles.source_treebanks(["xx"])
    files = roles.TRANSFER_EXPERIMENT_FILES
    assert len(set(files)) == len(files)
    assert {"fr_gsd-dev", "fr_gsd-test", "fr_pud-test", "en_pud-test", "es_pud-test"} <= set(files)


def test_no_source_treebank_shares_a_sentence_with_a_french_test(data_dir: Path) -> None:
    sources = roles.source_treebanks(data_dir=data_dir)
    assert set(sources) == set(roles.SOURCE_TREEBANKS)
    assert all(s.lang == lang for lang, pool in sources.items() for s in pool)
    roles.assert_no_test_leakage(sources, roles.french_fewshot_splits(data_dir), roles.parallel_pud(data_dir))


# -- similarity measures, on sentences small enough to count by hand ------------------------------------


def sentence(forms: str, tags: str, lang: str = "xx") -> Sentence:
    return Sentence(tuple(forms.split()), tuple(tags.split()), f"{lang}-{forms}", lang, "hand")


def test_char_ngrams_mark_word_edges_and_lowercase() -> None:
    assert sim.char_ngrams([sentence("De a", "ADP DET")], 3) == Counter({"<de": 1, "de>": 1, "<a>": 1})
    assert sim.char_ngrams([sentence("ab", "X")], 2) == Counter({"<a": 1, "ab": 1, "b>": 1})


def test_char_ngram_overlap_by_hand() -> None:
    # "ab": <a ab b>   "ac": <a ac c>   -> each gram 1/3; shared: <a -> overlap 1/3
    a, b = [sentence("ab", "X")], [sentence("ac", "X")]
    assert sim.char_ngram_overlap(a, b, 2) == pytest.approx(1 / 3)
    assert sim.char_ngram_overlap(a, a, 2) == pytest.approx(1.0)
    assert sim.char_ngram_overlap(a, [sentence("zz", "X")], 2) == 0.0


def test_jensen_shannon_by_hand() -> None:
    assert sim.jensen_shannon({"a": 1.0}, {"b": 1.0}) == pytest.approx(1.0)  # disjoint: one bit
    assert sim.jensen_shannon({"a": 0.5, "b": 0.5}, {"a": 0.5, "b": 0.5}) == pytest.approx(0.0)
    # p = (1, 0), q = (1/2, 1/2): m = (3/4, 1/4); H(m) = 0.811278; (H(p) + H(q)) / 2 = 0.5
    assert sim.jensen_shannon({"a": 1.0}, {"a": 0.5, "b": 0.5}) == pytest.approx(0.311278, abs=1e-6)


def test_upos_bigrams_include_sentence_edges() -> None:
    counts = sim.upos_bigrams([sentence("la casa", "DET NOUN")])
    assert counts == Counter({("<s>", "DET"): 1, ("DET", "NOUN"): 1, ("NOUN", "</s>"): 1})
    same = [sentence("le chat", "DET NOUN")]
    assert sim.upos_bigram_similarity([sentence("la casa", "DET NOUN")], same) == pytest.approx(1.0)


def test_word_order_preference_and_similarity_by_hand() -> None:
    french = [sentence("maison rouge", "NOUN ADJ"), sentence("grande maison", "ADJ NOUN"),
              sentence("chat noir", "NOUN ADJ"), sentence("a vu", "AUX VERB")]  # fmt: skip
    english = [sentence("red house", "ADJ NOUN"), sentence("has seen", "AUX VERB")]
    assert sim.order_preference(french, "ADJ", "NOUN") == pytest.approx(1 / 3)
    assert math.isnan(sim.order_preference(french, "NUM", "NOUN"))
    profile_fr, profile_en = sim.word_order_profile(french), sim.word_order_profile(english)
    assert profile_fr["ADJ<NOUN"] == pytest.approx(1 / 3) and profile_en["AUX<VERB"] == 1.0
    # pairs seen by both: ADJ<NOUN (1/3 vs 1) and AUX<VERB (1 vs 1): 1 - (2/3 + 0) / 2
    assert sim.word_order_similarity(french, english) == pytest.approx(2 / 3)


def test_similarities_to_gives_every_measure_for_every_source() -> None:
    target = [sentence("la maison rouge", "DET NOUN ADJ")]
    table = sim.similarities_to(target, {"same": target, "other": [sentence("red house", "ADJ NOUN")]})
    assert set(table) == {"same", "other"} and set(table["same"]) == set(sim.MEASURES)
    assert all(v == pytest.approx(1.0) for v in table["same"].values())
    assert all(table["other"][m] < 1.0 for m in sim.MEASURES)


def test_typological_distance_from_urielplus() -> None:
    pytest.importorskip("urielplus")
    from xlmeta_lab.data import typology

    assert typology.available()
    assert typology.typological_distance("fr", "fr") == 0.0
    assert typology.typological_distance("fr", "es") == typology.typological_distance("es", "fr")
    syntax = typology.distances_to("fr", ["es", "zh"])
    assert 0 < syntax["es"] < syntax["zh"] <= 1  # Spanish is closer to French than Mandarin is
    genetic = typology.distances_to("fr", ["es", "ro", "fi"], kind="genetic")
    assert genetic["es"] < genetic["fi"] and genetic["ro"] < genetic["fi"]
    with pytest.raises(ValueError, match="no ISO 639-3 code"):
        typology.typological_distance("fr", "xx")


# -- gradient alignment: cases with a known answer -----------------------------------------------------


def linear_batch(target: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """x = identity, y = target: for a bias-free linear model at w = 0 the MSE gradient is -2/d * target."""
    return torch.eye(len(target), dtype=torch.float64), torch.tensor(target, dtype=torch.float64)[:, None]


def zero_linear(d: int) -> nn.Module:
    model = nn.Linear(d, 1, bias=False).double()
    nn.init.zeros_(model.weight)
    return model


def test_cosine_of_gradient_dicts_is_known_for_linear_tasks() -> None:
    model = zero_linear(3)
    tasks = {
        "a": [(linear_batch([1, 0, 0]),)],
        "same": [(linear_batch([2, 0, 0]),)],
        "opposite": [(linear_batch([-1, 0, 0]),)],
        "orthogonal": [(linear_batch([0, 1, 0]),)],
    }
    grads = alignment.task_gradients(model, nn.functional.mse_loss, tasks)
    cosines = alignment.pairwise_cosines(grads)
    assert cosines[("a", "same")] == pytest.approx(1.0)
    assert cosines[("a", "opposite")] == pytest.approx(-1.0)
    assert cosines[("a", "orthogonal")] == pytest.approx(0.0)
    assert (
        alignment.cosine({"w": torch.ones(2), "b": torch.zeros(1)}, {"w": torch.tensor([1.0, -1.0])}) == 0.0
    )
    assert math.isnan(alignment.cosine({"w": torch.zeros(2)}, {"w": torch.ones(2)}))


def test_task_gradients_use_the_engine_meta_gradient() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 1).double()
    task = (linear_batch([1, 2, 3]), linear_batch([0, 1, 0]))
    got = alignment.task_gradients(
        model, nn.functional.mse_loss, {"x": [task]}, method="fomaml", inner_lr=0.1
    )["x"]
    expected = meta_gradient(model, nn.functional.mse_loss, [task], method="fomaml", inner_lr=0.1)
    assert all(torch.equal(got[n], expected[n]) for n in expected)
    with pytest.raises(ValueError, match="unknown method"):
        alignment.task_gradients(model, nn.functional.mse_loss, {"x": [task]}, method="joint")


def test_reptile_is_joint_plus_the_inner_product_term_exactly_on_quadratics() -> None:
    """Bias-free linear regression has a constant Hessian, so the expansion has no remainder."""
    torch.manual_seed(1)
    model = nn.Linear(4, 1, bias=False).double()
    batch_a = (torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 1, dtype=torch.float64))
    batch_b = (torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 1, dtype=torch.float64))
    terms = alignment.reptile_expansion(model, nn.functional.mse_loss, batch_a, batch_b, lr=0.05)
    rest = terms["reptile"]["weight"] - terms["joint"]["weight"] - terms["alignment"]["weight"]
    assert float(rest.abs().max()) < 1e-12
    assert float(terms["alignment"]["weight"].abs().max()) > 1e-4  # the term is there, and it is not tiny


def test_reptile_expansion_remainder_shrinks_like_lr_squared_on_a_network() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    batch_a = (torch.randn(7, 3, dtype=torch.float64), torch.randn(7, 1, dtype=torch.float64))
    batch_b = (torch.randn(7, 3, dtype=torch.float64), torch.randn(7, 1, dtype=torch.float64))

    def remainder(lr: float) -> float:
        terms = alignment.reptile_expansion(model, nn.functional.mse_loss, batch_a, batch_b, lr)
        names = list(terms["reptile"])
        rest = [terms["reptile"][n] - terms["joint"][n] - terms["alignment"][n] for n in names]
        return float(alignment.flatten(dict(zip(names, rest))).norm())

    big, small = remainder(0.02), remainder(0.01)
    assert 3.0 < big / small < 5.0  # O(lr^2): halving lr divides the remainder by about 4


# -- compute saved, on curves written by hand --------------------------------------------------------------


def curve_rows(name: str, seed: int, draw: int, grid: dict[tuple[int, int], float]) -> list[dict]:
    return [
        {"condition": name, "seed": seed, "draw": draw, "K": k, "steps": s, "accuracy": acc}
        for (k, s), acc in grid.items()
    ]


def test_sentences_and_steps_needed_and_saved_by_hand() -> None:
    # (K, steps) -> accuracy; the grid is K in {5, 20}, steps in {10, 40}
    rows = [
        *curve_rows("scratch", 0, 0, {(5, 10): 0.2, (5, 40): 0.4, (20, 10): 0.5, (20, 40): 0.7}),
        *curve_rows("scratch", 0, 1, {(5, 10): 0.2, (5, 40): 0.5, (20, 10): 0.6, (20, 40): 0.9}),
        *curve_rows("joint", 0, 0, {(5, 10): 0.7, (5, 40): 0.85, (20, 10): 0.8, (20, 40): 0.9}),
        *curve_rows("joint", 0, 1, {(5, 10): 0.6, (5, 40): 0.7, (20, 10): 0.85, (20, 40): 0.9}),
    ]
    target = savings.scratch_target(rows)
    assert target == pytest.approx(0.8)  # scratch's mean at K=20, 40 steps: (0.7 + 0.9) / 2
    by_k = savings.needed(rows, target, over="K")
    assert by_k["scratch"] == {(0, 0): None, (0, 1): 20}  # draw 0 never reaches 0.8
    assert by_k["joint"] == {(0, 0): 5, (0, 1): 20}
    by_steps = savings.needed(rows, target, over="steps")
    assert by_steps["joint"] == {(0, 0): 10, (0, 1): 10} and by_steps["scratch"] == {(0, 0): None, (0, 1): 40}
    summary = {row["condition"]: row for row in savings.summarise_needed(by_k)}
    assert summary["scratch"]["reached"] == 1 and summary["scratch"]["needed"] is None  # censored: no mean
    assert summary["joint"]["needed"].mean == pytest.approx(12.5)
    assert summary["joint"]["saved"].mean == 0 and summary["joint"]["saved_units"] == 1
    assert summary["joint"]["beyond_grid"] == 1  # draw 0: joint reached it with 5, scratch never did
    assert savings.first_reaching({5: 0.1, 1: 0.9}, 0.5) == 1
    with pytest.raises(ValueError, match="over must be"):
        savings.needed(rows, target, over="lr")


# -- notebook 05's exercises: typical slips get their own hint --------------------------------------------


def _overlap_without_marks(a, b, n=3):  # type: ignore[no-untyped-def]
    counts = [Counter(g for s in side for f in s.forms for g in (f.lower()[i : i + n] for i in range(max(1, len(f) - n + 1))))
              for side in (a, b)]  # fmt: skip
    return sim.histogram_intersection(sim.normalise(counts[0]), sim.normalise(counts[1]))


def _overlap_jaccard(a, b, n=3):  # type: ignore[no-untyped-def]
    ga, gb = set(sim.char_ngrams(a, n)), set(sim.char_ngrams(b, n))
    return len(ga & gb) / len(ga | gb)


def _cosine_per_tensor(a, b):  # type: ignore[no-untyped-def]
    return sum(alignment.cosine({n: a[n]}, {n: b[n]}) for n in a) / len(a)


def _dot(a, b):  # type: ignore[no-untyped-def]
    return float(sum((a[n] * b[n]).sum() for n in a))


def _baseline_minus(condition, baseline):  # type: ignore[no-untyped-def]
    return {u: baseline[u] - condition[u] for u in condition if u in baseline}


def _by_position(condition, baseline):  # type: ignore[no-untyped-def]
    shared = [u for u in condition if u in baseline]
    pairs = zip(condition.values(), baseline.values())
    return {u: c - b for u, (c, b) in zip(shared, pairs)}


@pytest.mark.parametrize(
    ("key", "answer", "hint"),
    [
        ("05.1", _overlap_without_marks, "no edge marks"),
        ("05.1", _overlap_jaccard, "Jaccard overlap of the n-gram *sets*"),
        ("05.3", _cosine_per_tensor, "mean of one cosine per tensor"),
        ("05.3", _dot, "this is the dot product"),
        ("05.2", _baseline_minus, "wrong sign"),
        ("05.2", _by_position, "by position, not by unit"),
    ],
)
def test_exercise_slips_get_their_hint(key: str, answer: object, hint: str) -> None:
    from xlmeta_lab.teaching.exercises import ExerciseFailed, check

    with pytest.raises(ExerciseFailed, match=re.escape(hint)):
        check(key, answer)  # type: ignore[arg-type]


# -- report sentences: worded by the numbers, negative results as such --------------------------------------


def paired_row(diff: float, low: float, high: float, n: int = 6, p_holm: float | None = None) -> dict:
    """A summary row; its Holm p, unless given, is what the interval alone says (below 0.05 when it excludes 0)."""
    if p_holm is None:
        p_holm = 0.01 if low > 0 or high < 0 else 0.5
    return {"condition": "joint@en+es+zh", "K": 5, "diff": diff, "diff_low": low, "diff_high": high, "n": n,
            "diff_p_holm": p_holm, "holm_family": 4}  # fmt: skip


def test_effect_sentence_says_negative_transfer_only_when_the_interval_is_below_zero() -> None:
    change = "adding zh to en+es"
    assert "Negative transfer" in report.effect_sentence(paired_row(-0.03, -0.05, -0.01), change)
    assert "raised French accuracy" in report.effect_sentence(paired_row(0.03, 0.01, 0.05), change)
    assert "no effect shown" in report.effect_sentence(paired_row(-0.01, -0.03, 0.01), change)
    few = report.effect_sentence(paired_row(-0.05, math.nan, math.nan, n=2), change)
    assert "no claim" in few and "Negative" not in few
    # an interval below zero on its own, but not after Holm's correction over the family: no negative transfer
    corrected = report.effect_sentence(paired_row(-0.03, -0.05, -0.01, p_holm=0.12), change)
    assert "no effect shown after correction" in corrected and "Holm-corrected p = 0.120 over 4" in corrected
    assert "Negative" not in corrected


def test_association_sentence_gives_no_verdict_on_too_few_units() -> None:
    assert "no verdict" in report.association_sentence("overlap", 0.9, 0.01, 9, 2, "accuracy")
    text = report.association_sentence("overlap", 0.9, 0.01, 9, 6, "accuracy")
    assert "higher French accuracy: an association, too few languages for a rule" in text
    assert "No association shown" in report.association_sentence("overlap", 0.2, 0.6, 9, 6, "accuracy")
    corrected = report.association_sentence("overlap", 0.7, 0.03, 9, 6, "accuracy", p_holm=0.24, family=8)
    assert "Holm-corrected over 8 tests: 0.240" in corrected and "No association shown" in corrected


def test_association_lines_correct_the_whole_table() -> None:
    """Nine languages, two measures, two methods: the perfectly ordered pair is kept after Holm, the others are not
    (their raw p-values are what Holm multiplies: four tests here)."""
    langs = list("abcdefghi")
    measures = {"m1": {lang: float(i) for i, lang in enumerate(langs)},
                "m2": {lang: float((i * 4) % 9) for i, lang in enumerate(langs)}}  # fmt: skip
    accuracy = {"joint": {lang: 0.5 + 0.01 * i for i, lang in enumerate(langs)},
                "maml": {lang: 0.5 + 0.01 * ((i * 5) % 9) for i, lang in enumerate(langs)}}  # fmt: skip
    lines = report.association_lines(measures, accuracy, 15, "French accuracy at K=5").splitlines()
    assert len(lines) == 4 and all("Holm-corrected over 4 tests" in line for line in lines)
    assert "an association" in lines[0] and "m1 vs joint's" in lines[0]
    assert sum("an association" in line for line in lines) == 1


def test_alignment_summary_claims_a_change_only_with_three_seeds() -> None:
    rows = [
        {
            "method": "maml",
            "seed": seed,
            "step": step,
            "a": "en",
            "b": "es",
            "kind": "across",
            "cosine": value,
        }
        for seed in range(3)
        for step, value in ((0, 0.1 + 0.01 * seed), (20, 0.3 + 0.02 * seed))
    ]
    assert "it rose" in report.alignment_summary(rows)
    assert "no claim" in report.alignment_summary([r for r in rows if r["seed"] == 0])


def test_savings_lines_report_censored_units_instead_of_a_mean() -> None:
    needs = {"scratch": {(0, 0): None, (0, 1): 20, (0, 2): 20}, "joint": {(0, 0): 5, (0, 1): 5, (0, 2): 10}}
    text = report.savings_lines(savings.summarise_needed(needs), 0.8, "French sentences", [5, 10, 20])
    assert "scratch" in text and "2/3 units reach it; no mean" in text
    assert "joint" in text and "3/3 units reach it" in text and "only this one reaches it" in text


def test_units_at_the_grids_first_value_are_counted_as_bounds_and_compared_against_joint() -> None:
    # steps needed on a grid 25/50/100/200: joint and maml already reach the target at 25 in every unit, scratch
    # at 200; the first reference run of notebook 05 printed exactly this as a zero-width "saving" of 175 steps
    needs = {
        "scratch": {(0, d): 200 for d in range(3)},
        "joint": {(0, d): 25 for d in range(3)},
        "maml": {(0, 0): 25, (0, 1): 25, (0, 2): 50},
    }
    summary = {row["condition"]: row for row in savings.summarise_needed(needs, floor=25)}
    assert summary["joint"]["at_floor"] == 3 and summary["maml"]["at_floor"] == 2 and summary["scratch"]["at_floor"] == 0
    assert summary["joint"]["saved"].mean == 175
    versus = [row for row in savings.summarise_needed(needs, baseline="joint", floor=25) if row["condition"] == "maml"]
    assert versus[0]["saved"].mean == pytest.approx(-25 / 3)  # maml needs more than joint in one unit
    text = report.savings_lines(list(summary.values()), 0.8, "fine-tuning steps", [25, 50, 100, 200], versus=versus)
    assert "3 unit(s) already there at the grid's first value, 25" in text and "upper bound" in text
    assert "maml           no saving shown against joint" in text
    # a grid starting at 0 steps has no floor to hide below: the same needs are measurements there
    assert all(row["at_floor"] == 0 for row in savings.summarise_needed(needs, floor=0))
    assert "first value" not in report.savings_lines(savings.summarise_needed(needs, floor=0), 0.8, "steps", [0, 25])


def test_paired_gaps_along_the_grid_by_hand() -> None:
    # two units; at K = 20 maml is ahead after 5 steps and level after 50; the K = 5 rows must not count
    rows = [
        *curve_rows("joint", 0, 0, {(20, 5): 0.5, (20, 50): 0.8, (5, 5): 0.0}),
        *curve_rows("joint", 0, 1, {(20, 5): 0.6, (20, 50): 0.8, (5, 5): 0.0}),
        *curve_rows("maml", 0, 0, {(20, 5): 0.7, (20, 50): 0.8, (5, 5): 0.9}),
        *curve_rows("maml", 0, 1, {(20, 5): 0.7, (20, 50): 0.8, (5, 5): 0.9}),
    ]
    gaps = savings.paired_gaps(rows, "maml", "joint", over="steps")
    assert list(gaps) == [5, 50]
    assert gaps[5].mean == pytest.approx(0.15) and gaps[5].n == 2 and gaps[50].mean == pytest.approx(0.0)
    text = report.gap_lines(gaps, "maml", "joint", "fine-tuning steps, at K = 20")
    assert "maml - joint: French accuracy by fine-tuning steps" in text and "+15.0 (too few units" in text
    assert list(savings.paired_gaps(rows, "maml", "joint", over="K")) == [20]  # K at 50 steps: no K = 5 row there
    with pytest.raises(ValueError, match="over must be"):
        savings.paired_gaps(rows, "maml", "joint", over="lr")
    rows += [{**r, "condition": "scratch", "accuracy": r["accuracy"] / 2} for r in rows if r["condition"] == "joint"]
    text = report.savings_report(rows, 0.4, ks=[5, 20], steps=[5, 50], condition="maml", joint="joint")
    assert "French sentences needed to reach 40.0%" in text and "fine-tuning steps needed to reach 40.0%" in text
    assert "by French sentences, at 50 steps" in text and "by fine-tuning steps, at K = 20" in text


def test_the_savings_plot_keeps_the_zero_step_point_a_log_axis_would_drop() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from xlmeta_lab.teaching.plots.transfer import plot_savings_curves

    rows = [
        *curve_rows("scratch", 0, 0, {(20, 0): 0.3, (20, 5): 0.5, (20, 50): 0.7}),
        *curve_rows("joint", 0, 0, {(20, 0): 0.5, (20, 5): 0.7, (20, 50): 0.8}),
    ]
    ax = plot_savings_curves(rows, 0.7, over="steps")
    assert ax.get_xscale() == "symlog"
    assert [list(line.get_xdata()) for line in ax.get_lines()[:2]] == [[0, 5, 50], [0, 5, 50]]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "5", "50"]
    assert plot_savings_curves(rows, 0.7, over="K").get_xscale() == "log"  # no K = 0 here: a plain log axis


# -- notebook 03's profile: a BiLSTM context is one setting away, and the budget grid is not at its edge ----------


def test_notebook_03_profile_names_the_context_layer_and_a_budget_grid_past_the_reference_budgets() -> None:
    from xlmeta_lab.experiments.config import train_config_from_settings
    from xlmeta_lab.experiments.studies.udpos import UD_KEYS
    from xlmeta_lab.teaching.profiles import profile_settings

    for profile in ("quick", "full"):
        settings = profile_settings("03_en_es_to_fr", profile)
        assert settings["context"] == "conv"
        lstm = train_config_from_settings({**settings, "context": "lstm"}, 0, experiment_keys=UD_KEYS)
        assert lstm.context == "lstm"
    assert max(profile_settings("03_en_es_to_fr", "full")["finetune_steps"]) > 100  # the reference's every budget


def test_a_bilstm_tagger_meta_trains_on_the_loop_path() -> None:
    from xlmeta_lab.data.toy import make_toy_languages
    from xlmeta_lab.experiments.config import TrainConfig
    from xlmeta_lab.experiments.training.loop import train

    languages = make_toy_languages(40, languages=("en", "es"), seed=0)
    for method in ("maml", "joint"):
        config = TrainConfig(method=method, steps=2, eval_every=2, context="lstm", support_size=3, query_size=4)
        result = train(languages, config, progress=False)
        assert type(result.model.context).__name__ == "LSTMContext" and len(result.history) == 2


def test_annotation_drop_pairs_units_across_test_sets_and_corrects_over_languages() -> None:
    """es loses 6 points from fr GSD to fr PUD, en 1: paired by (seed, draw), so the draws' and seeds' spread cancels
    and both drops are shown, largest first."""
    from xlmeta_lab.experiments.config import ProtocolConfig
    from xlmeta_lab.experiments.protocol.results import Budget, ProtocolResult, summarise

    rows = []
    for lang, drop in (("es", 0.06), ("en", 0.01)):
        for seed in range(3):
            for draw in range(5):
                base = 0.7 + (0.01 if lang == "es" else 0.0) + 0.03 * draw + 0.02 * seed  # both test sets alike
                wobble = 0.004 * ((seed * 3 + draw) % 4 - 1.5)
                for test_set, acc in (("gsd", base), ("pud", base - drop + wobble)):
                    rows.append({"condition": f"joint@{lang}", "K": 5, "seed": seed, "draw": draw,
                                 "test_set": test_set, "accuracy": acc})  # fmt: skip
    budgets = {"joint@es": Budget(0.1, 50, 0.70), "joint@en": Budget(0.1, 50, 0.72)}
    result = ProtocolResult(rows, summarise(rows, baseline=None), budgets, ProtocolConfig(ks=(5,)))
    text = report.annotation_drop(result, ["en", "es"], "joint", 5, "gsd", "pud")
    assert text.startswith("joint at K=5, trained on one language, gsd minus pud accuracy")
    assert text.index("es +6.0") < text.index("en +1.0")
    assert text.endswith("Holm-corrected over the 2 languages, a drop is shown for: es, en.")
    listed = report.best_single_source(result, ["en", "es"], "joint", 5, "gsd")
    assert listed.startswith("joint at K=5 on gsd, trained on one language: es 79.0% ± 6.0, en 78.0% ± 6.0.")
    assert listed.endswith("Best on the French holdout: en.")  # the holdout, not the test order, names the choice


def test_the_pair_on_more_seeds_keeps_the_rows_of_the_seeds_it_shares_with_fewer(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the five-seed pair reference is read beside notebook 05's three-seed one: seeds 0-2 must be the same units
    import json
    import sys

    from xlmeta_lab.cli.reference_runs.transfer_analysis import pair_seeds

    one = pair_seeds.run_pair(tmp_path / "one", "quick", 1, 1, tmp_path / "out-one")
    two = pair_seeds.run_pair(tmp_path / "two", "quick", 2, 1, tmp_path / "out-two")
    rows_one, rows_two = (json.loads(paths["json"].read_text())["rows"] for paths in (one, two))
    assert {r["condition"] for r in rows_two} == {"scratch", "joint@en+es", "maml@en+es"}
    assert {r["seed"] for r in rows_two} == {0, 1} and rows_one == [r for r in rows_two if r["seed"] == 0]
    config = json.loads(two["json"].read_text())["provenance"]["config"]
    assert config["source_sets"] == ["en+es"] and config["workers"] == 1
    monkeypatch.setattr(sys, "argv", ["pair_seeds", str(tmp_path / "none"), "--seeds", "0"])
    with pytest.raises(SystemExit):
        pair_seeds.main()


def test_the_meta_learner_is_notebook_03s_best_on_the_holdout_unless_the_profile_names_one(tmp_path: Path) -> None:
    from xlmeta_lab.experiments.studies import transfer
    from xlmeta_lab.teaching.notebook import reference_dir

    reference = reference_dir() / "03_en_es_to_fr-full.json"
    meta, why = transfer.chosen_meta_method({"meta_method": "auto"}, reference)
    assert (meta, why) == transfer.best_meta_method(reference) and meta == "maml"  # 76.9% on the holdout
    assert transfer.chosen_meta_method({"meta_method": "reptile"}, reference) == ("reptile", "set in the profile")
    missing = transfer.chosen_meta_method({"meta_method": "auto"}, tmp_path / "none.json")
    assert missing[0] == transfer.DEFAULT_META_METHOD and "no reference run" in missing[1]
