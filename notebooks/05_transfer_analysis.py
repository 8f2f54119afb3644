# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Which source languages transfer to French, and why
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xlmeta-lab/xlmeta-lab/blob/main/notebooks/05_transfer_analysis.ipynb)
#
# Notebook 03 meta-trained on English and Spanish and adapted to French. Here we ask *why* that works, by changing
# the source languages. Seven more Universal Dependencies treebanks (German, Dutch, Romanian, Russian, Finnish,
# Indonesian, Chinese) join English and Spanish; **French stays the target**: it is never trained on, its test set
# is only scored, and every fine-tuning budget is chosen on a held-out part of French dev.
#
# **Learning objectives.** You will be able to
# 1. measure how close a language is to French from the data alone (character n-grams, tag bigrams, a word-order
#    proxy) and, where URIEL+ is installed, from typology; write the n-gram overlap yourself (exercise 1);
# 2. run a **source-language ablation**: the joint baseline and the best meta-learner of notebook 03, trained on
#    each language alone and on en+es, adapted to French at K = 0, 5, 20 on the same paired draws;
# 3. ask whether similarity predicts transfer, with a rank correlation and an honest p-value over a handful of
#    languages;
# 4. test for **negative transfer** from a distant language (Chinese, Finnish) added to en+es, and read a paired
#    interval as "hurt", "helped" or "no effect shown"; compute a paired difference yourself (exercise 2);
# 5. measure **gradient alignment** between languages along training, write the cosine of two gradient dicts
#    (exercise 3), and relate it to the inner-product term first-order MAML and Reptile implicitly maximise;
# 6. grow the sources from 2 to 4 to 8 languages at a fixed budget, and measure the **compute saved**: French
#    sentences and fine-tuning steps needed to reach a fixed accuracy, against training from scratch.
#
# **Prerequisites**: notebooks 01 (the meta-gradient, Reptile) and 03 (the protocol: paired draws, budgets on the
# holdout, intervals over seeds × draws). Data: the UD treebanks of `data/README.md` (found through `XLMETA_DATA` or
# downloaded once); URIEL+ optional (`pip install 'xlmeta-lab[analysis]'`).
#
# **Run time** (wall time with papermill, recorded in `xlmeta_lab/reference/timings.json` by `xlmeta workbook --time`;
# machines in the README): `quick` 3 min on CPU; `full` 67 min on CPU (3 seeds on 2 workers, the en+es pair on five in
# its own run, `05_transfer_analysis-full-pair`; before length buckets, words spelled once and workers an estimated 5
# to 6 h of one-thread CPU time: the reference this run replaced took 2 h 55 min of wall time, resumed, with a second
# process beside it, and its savings curves a separate rerun); not measured on a GPU. `PROFILE = "auto"` runs the
# largest profile measured on your kind of hardware to finish within 10 min and prints its estimate; it never starts
# `full` (set `PROFILE = "full"` for that).
#
# `quick` proves the code path: 1 seed × 2 draws give no intervals and no verdicts, only numbers. The committed `full`
# run is described in `results/reference/README.md`.
#
# **Exercises**: cells tagged `exercise` hold the solutions between `# BEGIN SOLUTION` and `# END SOLUTION`;
# `xlmeta workbook --student DIR` writes copies where they are yours to write, and the cell after each one checks
# your function. **Predict, then run** prompts ask you to commit to an answer before the next cell shows it.

# %%
# On Colab, install the workbook's package (nothing happens when you run locally).
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "xlmeta-lab @ git+https://github.com/xlmeta-lab/xlmeta-lab",
        ],
        check=True,
    )

# %% tags=["parameters"]
PROFILE = "auto"  # "quick", "full", or "auto": full on a GPU, quick on a CPU
SEED = 0
DEVICE = "auto"

# %%
import time

import matplotlib.pyplot as plt
import torch

from xlmeta_lab.data import similarity, typology
from xlmeta_lab.experiments.protocol.results import write_protocol_results
from xlmeta_lab.experiments.protocol.stats import mean_ci
from xlmeta_lab.experiments.results import provenance, write_results
from xlmeta_lab.experiments.studies import savings, transfer
from xlmeta_lab.meta.alignment import plain_gradient, reptile_expansion
from xlmeta_lab.models.tagger import tagging_loss
from xlmeta_lab.teaching.exercises import check, exercises_done, hint  # noqa: F401 (hint: yours to call)
from xlmeta_lab.teaching.notebook import (
    checkpoints_dir,
    reference_dir,
    report_key_result,
    results_dir,
    start_notebook,
)
from xlmeta_lab.teaching.plots.transfer import (
    plot_alignment,
    plot_savings_curves,
    plot_similarity_vs_transfer,
    plot_source_sets,
)
from xlmeta_lab.teaching.reports.transfer import (
    alignment_summary,
    annotation_drop,
    association_lines,
    best_single_source,
    paired_effects,
    savings_report,
    similarity_table,
)
from xlmeta_lab.teaching.reports.wording import (
    difference_headline,
    reference_report,
    small_sample_note,
    steps_curve,
)

PROFILE, settings, device = start_notebook(transfer.NOTEBOOK, PROFILE, SEED, DEVICE)
started = time.perf_counter()
setup = transfer.transfer_setup(settings, SEED)
RUN = f"{transfer.NOTEBOOK}-{PROFILE}-seed{SEED}"
SEEDS = [SEED + i for i in range(settings["n_seeds"])]
META, why_meta = transfer.chosen_meta_method(settings, reference_dir() / "03_en_es_to_fr-full.json")
METHODS = ["joint", META]
PAIR, TEST = transfer.set_name(setup.pair), list(setup.splits.tests)[0]
KS = [k for k in setup.protocol.ks if k > 0]
k_main = 5 if 5 in KS else KS[0]
print(f"meta-learner: {why_meta}")
print("no French test sentence or translation of one is in any source language (checked on sentence ids)")

# %% [markdown]
# ## 1 · The source languages, and how close each is to French
#
# Each source language trains on the dev and test splits of its treebank (a source is never scored). French is
# described by its **support pool** (fr GSD dev): never by a test set. Three measures from the data, each in
# [0, 1] with 1 = the same (`xlmeta_lab/data/similarity.py` explains them): what the character CNN can share
# (3-gram overlap), which tag follows which (UPOS bigrams), and a word-order proxy (is the adjective before the
# noun? the auxiliary before the verb?).

# %%
for lang, sentences in setup.sources.items():
    print(f"[{lang}] {len(sentences)} sentences, {sum(len(s) for s in sentences)} words")
similarities = similarity.similarities_to(setup.splits.support_pool, setup.sources)
if typology.available():
    distances = typology.distances_to("fr", list(setup.sources), kind="syntactic")
    typology_note = "URIEL+ syntactic distance: 0 = the same WALS/SSWL/Grambank syntax features, 1 = orthogonal"
else:
    distances, typology_note = None, "URIEL+ is not installed here: no typological distance (the analysis extra)"
print(similarity_table(similarities, distances))
print(typology_note)
print("word order in French (share of the first tag before the second):", similarity.word_order_profile(setup.splits.support_pool))

# %% [markdown]
# ### Exercise 1 · Character n-gram overlap
#
# Write the first measure: count the character n-grams of every word (lowercased, with `<` and `>` at its edges, so
# *-tion>* and *<re* are n-grams of their own), turn each language's counts into shares that sum to 1, and add up
# `min(p[g], q[g])` over the n-grams both have. It is 1 for the same distribution and 0 when nothing is shared.

# %% tags=["exercise"]
def char_ngram_overlap(a, b, n=3):
    """Histogram intersection of the character n-gram distributions of sentences a and b."""
    # BEGIN SOLUTION (exercise 05.1)
    from collections import Counter

    def shares(sentences):
        counts = Counter()
        for sentence in sentences:
            for form in sentence.forms:
                word = f"<{form.lower()}>"
                counts.update(word[i : i + n] for i in range(max(1, len(word) - n + 1)))
        total = sum(counts.values())
        return {gram: count / total for gram, count in counts.items()}

    p, q = shares(a), shares(b)
    return sum(min(share, q[gram]) for gram, share in p.items() if gram in q)
    # END SOLUTION


# %%
char_ngram_overlap = check("05.1", char_ngram_overlap)
mine = char_ngram_overlap(setup.splits.support_pool, setup.sources["es"])
print(f"your overlap of French with Spanish: {mine:.3f} (the table says {similarities['es'][similarity.MEASURES[0]]:.3f})")

# %% [markdown]
# ## 2 · One source language at a time
#
# The joint baseline and the best meta-learner of notebook 03 (chosen by its French *holdout* accuracy there) are
# trained on every source set with **the same budget**: the same number of outer steps, each with a meta-batch of the
# same number of tasks, each task one language drawn uniformly from the set. Then each is adapted to French at
# K = 0, 5, 20 on the same paired draws. The same run also trains en+es plus a distant language (section 4) and 4
# and 8 languages (section 6).
#
# Every source set is scored on two French test sets: fr GSD test, from the same annotation project as the French
# support and holdout (and as Spanish GSD), and fr PUD test, annotated by another project. A single source that
# leads on fr GSD for shared annotation conventions rather than for its language would lose more going to fr PUD;
# the paired GSD - PUD drop per language measures that. The lists order sources by their test accuracy, which
# describes them; the source a choice could use is the one best on the French holdout, named after each list.
#
# **Predict, then run.** Trained on a single language, which gives the best French tagger at K = 5: Spanish, Romanian
# (both Romance), English (the largest treebank) or German? And does en+es beat the best single language?

# %%
sets = list(setup.source_sets)
result, trained = transfer.run_source_sets(
    setup, sets, METHODS, SEEDS, out_dir=checkpoints_dir() / RUN, progress=print, device=str(device)
)
singles = [name for name in sets if len(setup.source_sets[name]) == 1]
print(result.table(TEST))
print(steps_curve(result, setup.protocol))  # did the grid's largest step count still pay? (notebook 03, section 4)

# %%
for k in setup.protocol.ks:
    plot_source_sets(result.summary, [*singles, PAIR], METHODS, k, test_set=TEST)
    plt.tight_layout()
    plt.show()
for test_set in setup.splits.tests:
    for method in METHODS:
        for k in KS:
            print(best_single_source(result, singles, method, k, test_set))
print()
if len(setup.splits.tests) > 1:  # a second annotation project: is a source's lead on fr GSD its language's?
    for method in METHODS:
        print(annotation_drop(result, singles, method, k_main, *list(setup.splits.tests)[:2]))
    print()
print(
    paired_effects(
        result,
        [
            (f"training on {PAIR} rather than {lang} alone", f"{method}@{PAIR}", f"{method}@{lang}")
            for method in METHODS
            for lang in setup.pair
        ],
        KS,
        TEST,
    )
)
print(small_sample_note(len(SEEDS), setup.protocol.n_draws, PROFILE))

# %% [markdown]
# ### Exercise 2 · The paired difference of transfer
#
# Every condition is scored on the same units: (training seed, support draw). A paired difference subtracts the
# baseline's accuracy **on the same unit**, so the luck of a draw cancels. Write it: given `{unit: accuracy}` for a
# condition and for its baseline, return `{unit: condition - baseline}` over the units both have.

# %% tags=["exercise"]
def paired_differences(condition, baseline):
    """condition - baseline for every unit (seed, draw) both have."""
    # BEGIN SOLUTION (exercise 05.2)
    return {unit: condition[unit] - baseline[unit] for unit in condition if unit in baseline}
    # END SOLUTION


# %%
paired_differences = check("05.2", paired_differences)
diffs = paired_differences(
    transfer.accuracy_units(result, f"{META}@{PAIR}", k_main, TEST),
    transfer.accuracy_units(result, f"joint@{PAIR}", k_main, TEST),
)
print(f"{META}@{PAIR} minus joint@{PAIR} at K={k_main}, per unit:", {u: round(100 * d, 1) for u, d in diffs.items()})
interval = mean_ci(list(diffs.values()))
print(f"mean {100 * interval.mean:+.1f} points over {interval.n} units; the protocol's summary says "
      f"{difference_headline(result, f'{META}@{PAIR}', k_main, TEST)}")

# %% [markdown]
# ## 3 · Does similarity predict transfer?
#
# One point per source language: its similarity to French against the French accuracy of the model trained on it
# alone. With nine languages a correlation is fragile, so we give Spearman's rank correlation with a **permutation
# p-value** (how often a random re-pairing of languages and accuracies correlates as strongly), and no verdict when
# each language's accuracy rests on fewer than 3 units. The table makes one test per measure and method; tested
# separately at 0.05, eight of them would find some "association" by chance about a third of the time, so the p-values
# are Holm-corrected over the whole table, and a correlation that survives is an association among these languages,
# not a rule for a tenth.

# %%
measures = {m: {lang: similarities[lang][m] for lang in singles} for m in similarity.MEASURES}
if distances is not None:
    measures["1 - URIEL+ syntactic distance"] = {lang: 1 - distances[lang] for lang in singles}
k_sim = k_main
accuracy = {m: {lang: result.get(f"{m}@{lang}", k_sim, TEST)["mean"] for lang in singles} for m in METHODS}
fig, axes = plt.subplots(1, len(measures), figsize=(4.2 * len(measures), 3.8))
for ax, (measure, values) in zip(axes, measures.items()):
    plot_similarity_vs_transfer(values, accuracy, measure=measure, k=k_sim, ax=ax)
plt.tight_layout()
plt.show()
units = result.get(f"joint@{singles[0]}", k_sim, TEST)["n"]
print(association_lines(measures, accuracy, units, f"French accuracy at K={k_sim}", seed=SEED))

# %% [markdown]
# ## 4 · Negative transfer: adding a distant language
#
# Chinese shares no script with French; Finnish shares the script but little else (agglutinative, no articles). Both
# are added to en+es with the budget unchanged, so each meta-batch now spends a third of its tasks on them.
#
# **Predict, then run.** Will adding Chinese lower French accuracy for the joint model? For the meta-learner? Which
# is hurt more, and is Finnish (same script) better or worse than Chinese?

# %%
distant = [name for name in sets if len(setup.source_sets[name]) == len(setup.pair) + 1]
print(
    paired_effects(
        result,
        [
            (f"adding {setup.source_sets[name][-1]} to {PAIR}", f"{method}@{name}", f"{method}@{PAIR}")
            for name in distant
            for method in METHODS
        ],
        setup.protocol.ks,
        TEST,
    )
)
plot_source_sets(result.summary, [PAIR, *distant], METHODS, k_main, test_set=TEST)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5 · Gradient alignment between languages
#
# If a step that lowers the English loss also lowers the Spanish one, their gradients point the same way: a
# positive cosine. Nichol et al. (2018) showed what first-order meta-learning adds to joint training: with two SGD
# steps on batches *a* then *b*, Reptile's direction (averaged over the two orders) is
#
# $$\frac{\theta - \theta_2}{\alpha} = (g_a + g_b) - \frac{\alpha}{2}\,\nabla_\theta (g_a \cdot g_b) + O(\alpha^2),$$
#
# joint training plus a term whose descent **increases the inner product of gradients of different batches of a
# task**. The next cell checks the identity on our tagger, at its initialisation, with two English batches.

# %%
probe = transfer.probe_tasks(setup, trained[PAIR], setup.pair, 1, seed=SEED)
batch_a, batch_b = probe[setup.pair[0]][0]
fresh = trained[PAIR].backbone.new_model(SEED).double()
as_double = [(tuple(t.double() if t.is_floating_point() else t for t in b.x), b.y) for b in (batch_a, batch_b)]
for lr in (0.02, 0.01):
    terms = reptile_expansion(fresh, tagging_loss, as_double[0], as_double[1], lr)
    sizes = {name: torch.cat([v.reshape(-1) for v in term.values()]).norm().item() for name, term in terms.items()}
    rest = torch.cat([(terms["reptile"][n] - terms["joint"][n] - terms["alignment"][n]).reshape(-1) for n in terms["joint"]])
    print(f"lr={lr}: |joint| {sizes['joint']:.3g}, |inner-product term| {sizes['alignment']:.3g}, "
          f"|Reptile - joint - term| {rest.norm().item():.3g}")

# %% [markdown]
# ### Exercise 3 · The cosine of two gradient dicts
#
# A gradient here is a dict `{parameter name: tensor}`. The cosine of two such directions treats each dict as one
# long vector: flatten every tensor, in the same order of names, concatenate, then `u · v / (|u| |v|)`.

# %% tags=["exercise"]
def gradient_cosine(a, b):
    """Cosine between two {name: tensor} gradients over the names they share."""
    # BEGIN SOLUTION (exercise 05.3)
    names = sorted(set(a) & set(b))
    u = torch.cat([a[n].reshape(-1) for n in names]).double()
    v = torch.cat([b[n].reshape(-1) for n in names]).double()
    return float(u @ v / (u.norm() * v.norm()))
    # END SOLUTION


# %%
gradient_cosine = check("05.3", gradient_cosine)
g_a, g_b = (plain_gradient(fresh, tagging_loss, [batch]) for batch in as_double)
print(f"your cosine of the two English batches' gradients at the initialisation: {gradient_cosine(g_a, g_b):+.3f}")

# %% [markdown]
# Now the real thing: at checkpoints along one training run of each method on the sources below, each language's
# direction (the method's meta-gradient from the engine; for joint, the plain gradient) on two disjoint sets of
# probe episodes. Solid lines: two source languages; dashed: a source and French (probe episodes from the support
# pool, never trained on); dotted: one language's two halves, the within-task inner product of the identity above.
#
# **Predict, then run.** Along training, does the cosine between English and Spanish rise or fall? And between
# Chinese and French?

# %%
alignment_rows = transfer.alignment_along_training(
    setup, settings["alignment_sources"], METHODS, SEEDS, settings["alignment_checkpoints"], settings["probe_tasks"],
    out_dir=checkpoints_dir() / RUN / "alignment", device=str(device),
)  # fmt: skip
fig, axes = plt.subplots(1, len(METHODS), figsize=(6 * len(METHODS), 4), sharey=True)
for ax, method in zip(axes, METHODS):
    plot_alignment(alignment_rows, method, ax=ax)
plt.tight_layout()
plt.show()
print(alignment_summary(alignment_rows))

# %% [markdown]
# ## 6 · More languages as more tasks
#
# The budget is fixed: the same number of outer steps, each with the same meta-batch of tasks, drawn from the N
# languages (not all N every step). So outer steps and sentence passes are both matched between 2, 4 and 8 sources;
# what changes is how varied the tasks are, and how many sentences of each language a run sees (fewer per language as
# N grows).

# %%
more = [PAIR, *(name for name in sets if len(setup.source_sets[name]) > len(setup.pair) + 1)]
print(
    paired_effects(
        result,
        [
            (f"{len(setup.source_sets[name])} sources instead of {len(setup.pair)}", f"{method}@{name}", f"{method}@{PAIR}")
            for name in more[1:]
            for method in METHODS
        ],
        KS,
        TEST,
    )
)
plot_source_sets(result.summary, more, METHODS, k_main, test_set=TEST, title=f"2, 4, 8 sources, same budget ({TEST})")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 7 · Compute saved
#
# How much French, and how much fine-tuning, does a pre-trained initialisation save? The target accuracy is what
# **scratch** reaches with everything the grid offers (its largest K and most steps), so it is set by the data, not by
# hand. Each initialisation fine-tunes with the step size its budget chose on the French holdout. Both savings are
# paired over the same units (seed x draw): against scratch, and, for the meta-learner, against joint. A grid can
# only say "between two of its values", so it starts at 0 steps (the initialisation as it is) and the report names
# every unit that is already at the target at the grid's first value or never reaches it. A target is one line across
# the curves; the paired gap between the meta-learner's and joint's curves at every grid value shows the rest (does one
# get there *faster*, then the other catch up?).

# %%
candidates = {c.name: c for c in trained[PAIR].conditions}
savings_rows = savings.accuracy_curves(
    [candidates[name] for name in ("scratch", f"joint@{PAIR}", f"{META}@{PAIR}")], result.budgets,
    setup.splits.support_pool, setup.splits.tests[TEST], trained[PAIR].encoder, ks=settings["savings_ks"],
    steps=settings["savings_steps"], n_draws=setup.protocol.n_draws, draw_seed=setup.protocol.draw_seed,
    cache=checkpoints_dir() / RUN / "savings",
)  # fmt: skip
target = savings.scratch_target(savings_rows)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
plot_savings_curves(savings_rows, target, over="K", ax=axes[0])
plot_savings_curves(savings_rows, target, over="steps", ax=axes[1])
plt.tight_layout()
plt.show()
print(
    savings_report(
        savings_rows, target, ks=settings["savings_ks"], steps=settings["savings_steps"],
        condition=f"{META}@{PAIR}", joint=f"joint@{PAIR}",
    )
)  # fmt: skip

# %% [markdown]
# ## 8 · Results
#
# Everything above is written with its provenance (config, seeds, versions, git commit) under `results/`.

# %%
config = {"profile": PROFILE, "meta_method": META, "settings": dict(settings), "train": setup.train_config.to_dict()}
paths = [*write_protocol_results(result, RUN, config=config, seeds=SEEDS, out_dir=results_dir()).values()]
paths += write_results(
    f"{RUN}-analysis",
    provenance_record=provenance(config, SEEDS),
    tables={"alignment": alignment_rows, "savings": savings_rows},
    extra={"similarities": similarities, "typological_distances": distances, "target": target},
    out_dir=results_dir(),
).values()
print("written:", ", ".join(str(p) for p in paths))
if PROFILE != "full":  # the committed full run, labelled as such, beside this run's numbers
    print(reference_report(reference_dir() / f"{transfer.NOTEBOOK}-full.json", TEST, result))
report_key_result(f"K={k_main} {TEST}: {META}@{PAIR} {difference_headline(result, f'{META}@{PAIR}', k_main, TEST)}")
print(f"wall time: {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ### Exercise 4 · Predict the best source language, then compare (open-ended)
#
# Section 1 measured how close each source language is to French in three ways. Choose one measure, predict from it
# which single source language gives the best French tagger, then compare with what section 2 measured
# (`accuracy[lang]`: the meta-learner trained on that language alone, at K = 5, mean over units). Return
# `{"measure": ..., "predicted": lang, "measured": lang, "agree": True or False, "rank_correlation": Spearman's rho
# between your measure and the accuracies}`.
#
# *Rubric.* Commit to the measure before you look (say why it should matter for a character-CNN tagger), then
# explain the disagreements: treebank size and genre, a script the character CNN cannot share, a measure that sees
# spelling but not word order. With one seed at `quick`, a rank correlation over a handful of languages is a hint,
# not a result.

# %% tags=["exercise", "open"]
def predict_best_source(similarities, accuracy):
    """{"measure", "predicted", "measured", "agree", "rank_correlation"} from similarities[lang][measure] and accuracy[lang]."""
    # BEGIN SOLUTION (exercise 05.4)
    from xlmeta_lab.experiments.protocol.stats import spearman

    measure = next(iter(next(iter(similarities.values()))))
    langs = sorted(accuracy)
    predicted = max(langs, key=lambda lang: similarities[lang][measure])
    measured = max(langs, key=accuracy.get)
    rho = spearman([similarities[lang][measure] for lang in langs], [accuracy[lang] for lang in langs])
    return {"measure": measure, "predicted": predicted, "measured": measured, "agree": predicted == measured,
            "rank_correlation": rho}
    # END SOLUTION


# %%
single_accuracy = {lang: result.get(f"{META}@{lang}", k_main, TEST)["mean"] for lang in singles}
prediction = check("05.4", predict_best_source, {lang: similarities[lang] for lang in singles}, single_accuracy)

# %% [markdown]
# ## What to take away
#
# * Transfer depends on the source: the ablation shows how much of notebook 03's result each language carries,
#   measured on the same paired draws, with intervals over seeds × draws in `full` and none in `quick`.
# * Similarity measured from the data (character n-grams, tag bigrams, word order) is a hypothesis about *why*
#   transfer works; with nine languages a rank correlation is only as strong as its permutation p-value, corrected
#   for the number of measures tried, says, and it describes these languages rather than giving a rule.
# * A test set from the same annotation project as one source (fr GSD and es GSD) can flatter that source; scoring
#   on a second project (fr PUD) measures how much.
# * Adding a language is not free: at a fixed budget it takes tasks from the others. Whether it hurts French is a
#   paired comparison, reported as negative transfer only when the whole interval is below zero.
# * First-order MAML and Reptile add to joint training a term that raises the inner product of gradients of
#   different batches *of one task*; whether gradients of different *languages* come to agree is measured, not
#   assumed (section 5).
# * More languages are more tasks, not more budget: the comparison holds the outer steps and meta-batch fixed.
# * "Compute saved" is counted in French sentences and fine-tuning steps against scratch, and for the meta-learner
#   against joint; a unit that never reaches the target within the grid is reported as such, not given a number,
#   and one already there at the grid's first value is reported as a bound.
#
# **References.** Nichol, Achiam, Schulman (2018), *On First-Order Meta-Learning Algorithms*, arXiv:1803.02999 ·
# Littell et al. (2017), *URIEL and lang2vec* · Khan et al. (2025), *URIEL+*, COLING · Lin et al. (2019),
# *Choosing Transfer Languages for Cross-Lingual Learning*, ACL · Yu et al. (2020), *Gradient Surgery for Multi-Task
# Learning*, NeurIPS.

# %%
# Your progress: a check that has not run, or has failed, counts as not done (hint("05.1") and so on for help).
done, total = exercises_done("05")
