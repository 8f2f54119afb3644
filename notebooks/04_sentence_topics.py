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
# # 04 · Sentence topics on SIB-200, and what more languages buy
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xlmeta-lab/xlmeta-lab/blob/main/notebooks/04_sentence_topics.ipynb)
#
# Notebook 03 tagged words; here a whole sentence gets one label. **SIB-200** gives 1,004 FLORES-200 sentences,
# translated into 200+ languages, each labelled with one of 7 topics (science/technology, travel, politics, sports,
# health, entertainment, geography). We meta-train on English and Spanish, give each initialisation **K French
# sentences of each topic**, and score French. Then we grow the training languages from 2 to 20, at the same
# training budget, and ask what more languages buy.
#
# **Learning objectives.** You will be able to
# 1. build N-way K-shot episodes and say why their labels are **permuted** in every episode (exercises 1 and 2);
# 2. run notebook 03's paired protocol on sentence classification (same draws for every condition, budgets chosen
#    on French dev, French test only scored, intervals over seeds × draws);
# 3. judge an accuracy against the right chance level, 1/N and the majority topic (exercise 3), and take apart a
#    result at chance: source training, zero-shot transfer, the fine-tuning budget (exercise 6);
# 4. start every task's classifier from its support set's **class prototypes** (Proto-MAML), write that head yourself
#    (exercise 5), and compare it with prototypical networks and with a TF-IDF baseline anyone can check;
# 5. read a "more languages" experiment whose budget is held fixed, and say which budget that is.
#
# **Prerequisites**: notebook 01 (the MAML loop) and notebook 03 (the conditions and the paired protocol).
#
# **Run time** (wall time with papermill, recorded in `xlmeta_lab/reference/timings.json` by `xlmeta workbook --time`;
# machines in the README): `quick` 53 s on CPU; `full` estimated 76 min on CPU (5 seeds on 2 workers: 30 trainings,
# the protocol, the TF-IDF baseline and the 80 trainings of the language sweep; the two added seeds took 1372 s of it;
# no single run from nothing was timed); not measured on a GPU. `PROFILE = "auto"` runs the largest profile measured
# on your kind of hardware to finish within 10 min and prints its estimate; it never starts `full` (set `PROFILE =
# "full"` for that).
#
# Its `full` reference run is committed: a `quick` run prints it in section 7.
#
# **Exercises**: cells tagged `exercise` hold the solutions between `# BEGIN SOLUTION` and `# END SOLUTION`;
# `xlmeta workbook --student DIR` writes copies where they are yours to write, and the cell after each checks your
# function. **Predict, then run** prompts ask you to commit to an answer before the next cell shows it.
#
# | condition | initialisation of the French classifier |
# | --- | --- |
# | scratch | random weights |
# | joint | ordinary multilingual training on the source languages, fixed labels, same sentence passes |
# | zero-shot | the joint model with no French at all: its K = 0 point |
# | joint-proto | the joint model, each French draw starting from its class prototypes instead of joint's head |
# | MAML, FOMAML, Reptile | meta-trained on N-way K-shot episodes with permuted labels, each task's head starting at its support set's prototypes (Proto-MAML) |
# | ANIL | as MAML, adapting only the head in the inner loop |
# | ProtoNet | a prototypical network: meta-trained with no inner step, French read off the nearest prototype, never fine-tuned |
# | tfidf-source, tfidf-source+fr | character n-gram TF-IDF with logistic regression, on the source languages, and on them plus the K French sentences |
#
# **What is never seen in training.** SIB-200's rows are translations: the same `index_id` is the same sentence in
# every language. Training reads only the source languages' *train* split; the budget holdout is French *dev*; French
# *test* is only scored. The three splits are the same `index_id` sets in every language, so no translation of a
# French test or holdout sentence is ever trained on (checked below, on `index_id`). The K-shot support sets come
# from French *train* (profile setting `french_pool`), whose rows **are** translations of the English and Spanish
# training rows: a French support sentence may be one the model read in translation, as a learner's own few
# examples might be. That is allowed for the support pool only, and the protocol never scores a support sentence.

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
MODEL = "char-cnn"  # the classifier trained from scratch, or a Hugging Face encoder, e.g. "xlm-roberta-base"

# %%
import math
import random
import time
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import torch

from xlmeta_lab.data.sib200 import SIB_LABELS, TRAINING_LANGUAGES
from xlmeta_lab.episodes.topics import TopicEncoder, TopicEpisodeSampler
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.experiments.adaptation.scoring import predict
from xlmeta_lab.experiments.protocol.results import ProtocolResult, merge_results, write_protocol_results
from xlmeta_lab.experiments.protocol.run import run_protocol
from xlmeta_lab.experiments.studies import sib200
from xlmeta_lab.experiments.studies.conditions import train_conditions
from xlmeta_lab.experiments.studies.topic_baseline import tfidf_result
from xlmeta_lab.models.tagger import count_parameters
from xlmeta_lab.teaching.exercises import check, exercises_done, hint  # noqa: F401 (hint: yours to call)
from xlmeta_lab.teaching.notebook import (
    checkpoints_dir,
    reference_dir,
    report_key_result,
    results_dir,
    start_notebook,
)
from xlmeta_lab.teaching.plots.protocol import (
    plot_accuracy_vs_k,
    plot_accuracy_vs_languages,
    plot_beside_reference,
    plot_learning_curves,
    plot_paired_differences,
)
from xlmeta_lab.teaching.reports.topics import (
    chance_levels,
    chance_report,
    chance_sentence,
    chance_takeaway,
    diagnosis,
    languages_report,
    training_at_chance,
)
from xlmeta_lab.teaching.reports.wording import (
    budget_lines,
    comparisons_at,
    difference_headline,
    headline,
    reference_report,
    small_sample_note,
    zero_shot_sentence,
)

PROFILE, settings, device = start_notebook(sib200.NOTEBOOK, PROFILE, SEED, DEVICE)
started = time.perf_counter()
setup = sib200.sib_setup(settings, SEED, model=MODEL)
RUN = sib200.run_name(PROFILE, SEED, MODEL)
print(
    f"model: {MODEL}" + ("" if MODEL == sib200.WORD_MODEL else " (encoder_settings replace the values above)")
)
CONFIG, PROTOCOL = setup.train_config, setup.protocol
SEEDS = [SEED + i for i in range(settings["n_seeds"])]
METHODS = list(settings["methods"])
print(
    "no French dev or test sentence, nor a translation of one, is in the training data (checked on index_id)"
)

# %% [markdown]
# ## 1 · The data
#
# The same FLORES sentences in every training language, with the same topic distribution (science/technology is
# about a quarter of them, geography a twelfth). The French side, as printed below: a **support pool** from which
# the K-shot support sets are drawn (French train), a **holdout** that chooses each condition's fine-tuning budget
# (all of French dev, rather than the quarter of it the first run set aside: on a holdout this small every
# sentence moves the accuracy by a point, so it takes all there is), and test, only scored.

# %%
for lang, examples in setup.training.items():
    print(f"[{lang}] {len(examples)} training sentences; e.g. ({examples[0].label}) {examples[0].text[:90]}")
pool, holdout = setup.splits.support_pool, setup.splits.holdout
(test_name, test_examples), *_ = setup.splits.tests.items()
print(
    f"[fr] support pool {len(pool)}, budget holdout {len(holdout)}, test {len(test_examples)} ({test_name})"
)
print(f"     e.g. ({pool[0].label}) {pool[0].text[:90]}")
per_topic = Counter(e.label for e in pool)
print("French support pool per topic:", ", ".join(f"{t} {per_topic[t]}" for t in SIB_LABELS))
print(
    f"so K (sentences per topic) can be at most {min(per_topic.values())}; this profile uses K in {PROTOCOL.ks}"
)
if setup.french_pool == "train":
    print(
        "the support pool is French train: its rows translate the training rows (the holdout and test do not)"
    )

# %% [markdown]
# ## 2 · Episodes: N-way K-shot, with the labels permuted
#
# An **episode** is a small classification task: pick N topics (here all 7), K **support** sentences of each (the
# inner loop adapts on them) and some **query** sentences of each (they score the adapted weights). That is what
# the French test will look like: 7 topics, K examples of each.
#
# **Why permute the labels.** The head has 7 outputs. If output 3 always meant *sports*, every episode would ask the
# same question, and MAML could lower its query loss without learning to adapt: the head simply memorises which
# output is which topic, and the inner loop has nothing to do. With few classes this is the default outcome, not a
# corner case. So every episode assigns the topics to the outputs at random: label *j* means topic `slots[j]` *in
# this episode only*. Now the only way to do well on the query set is to read the labelling off the support set,
# so the meta-gradient rewards an initialisation from which a few steps learn a *new* labelling, which is what
# French, with its K examples per topic, asks. The price: a meta-learned initialisation knows no labelling, so with
# no French example (K = 0) it can only be at chance. The joint baseline trains on the fixed labels (with no inner
# loop, a permuted label would be noise), so its K = 0 point is zero-shot transfer. With labels permuted, the head a
# task starts from cannot know the labelling either: section 3 starts it from the support set itself.
#
# ### Exercise 1 · An episode's labels
#
# `y` holds each sentence's global topic id (its position in `labels.txt`), `slots` the topic id of each output in
# this episode. Return the episode label of each sentence: the position *j* with `slots[j] == y[i]`.


# %% tags=["exercise"]
def episode_labels(y, slots):
    """Episode label of each sentence: the output j whose topic slots[j] is the sentence's topic y[i]."""
    # BEGIN SOLUTION (exercise 04.1)
    lookup = torch.full((int(max(y.max(), slots.max())) + 1,), -100, dtype=torch.long)
    lookup[slots] = torch.arange(len(slots))
    return lookup[y]
    # END SOLUTION


# %%
episode_labels = check("04.1", episode_labels)

# %% [markdown]
# ### Exercise 2 · An N-way K-shot episode
#
# Given the topic of every sentence of a pool, return the indices of an episode's support and query sentences:
# `n_way` topics chosen at random among those with at least `k_shot + query_per_class` sentences, then `k_shot`
# support and `query_per_class` query sentences of each, never the same sentence in both. Refuse (ValueError) a
# pool that cannot give such an episode. Use only the `rng` you are given, so an episode can be drawn again.


# %% tags=["exercise"]
def sample_episode(labels, n_way, k_shot, query_per_class, rng):
    """(support indices, query indices) of an N-way K-shot episode drawn with rng."""
    # BEGIN SOLUTION (exercise 04.2)
    by_topic = {}
    for index, label in enumerate(labels):
        by_topic.setdefault(label, []).append(index)
    need = k_shot + query_per_class
    eligible = sorted(topic for topic, indices in by_topic.items() if len(indices) >= need)
    if len(eligible) < n_way:
        raise ValueError(
            f"{n_way}-way needs {n_way} topics of {need} sentences; only {len(eligible)} have them"
        )
    support, query = [], []
    for topic in rng.sample(eligible, n_way):
        picked = rng.sample(by_topic[topic], need)
        support += picked[:k_shot]
        query += picked[k_shot:]
    return support, query
    # END SOLUTION


# %%
sample_episode = check("04.2", sample_episode)
english = next(iter(setup.training.values()))
support_idx, query_idx = sample_episode([e.label for e in english], 7, 2, 1, random.Random(SEED))
print("your episode's support topics:", ", ".join(english[i].label for i in support_idx))

# %% [markdown]
# The package's sampler does the same, then permutes the labels with your exercise-1 map. Two episodes from the
# same English pool: the same topics get different outputs.

# %%
show = TopicEpisodeSampler(
    {"en": english}, TopicEncoder(Vocab.build(english)), n_way=7, k_shot=1, query_per_class=1, seed=SEED
)
for _ in range(2):
    episode = show.draw()
    pairs = [f"{e.label} -> {int(label)}" for e, label in zip(episode.support, episode.task.support.y)]
    print("outputs:", ", ".join(f"{j}={topic}" for j, topic in enumerate(episode.slots)))
    print("   support topic -> label:", "; ".join(pairs[:4]), "...")

# %% [markdown]
# **Predict, then run.** Every meta-learner below is trained on permuted episodes; joint is trained on the fixed
# labels. At K = 0 (no French example, no fine-tuning), where will MAML's French accuracy be: near joint's, near
# 1/7 = 14%, or near 25% (always answering the most frequent topic)? Write your guess down; section 4 answers.
#
# ## 3 · The model, and meta-training
#
# *With `MODEL` set to a Hugging Face encoder (`xlm-roberta-base`, `bert-base-multilingual-cased`, or a local
# folder), every condition starts from that encoder with a topic head on its mean-pooled states, and "scratch" is
# the encoder with a fresh head; the rest of the notebook is unchanged. Its learning rates (`encoder_settings`) are
# untuned starting points, and every condition keeps its own copy of the encoder: use a GPU.*
#
# The classifier trained from scratch reads each word through a **character CNN**: spelling is what carries over
# (*politique / política / politics*), while a whole-word table, built from the training languages, knows few
# French words and, with ~600 sentences per language, mostly memorises them (on held-out English and Spanish
# sentences a one-seed probe found it worse with the table than without; `word_dim: 0` in the profile leaves it out). A residual 1-D
# convolution gives each word its neighbours, the sentence is the mean and the maximum of its words, normalised,
# and a linear head scores the 7 topics. Every layer runs under `torch.func.vmap`, so a meta-batch of episodes is
# one call.
#
# **The head every task starts from.** With labels permuted, no learned head can know which output is which topic
# in a new task, so each task's head is built from its own support set: a **prototypical network** (Snell et al.,
# 2017) sends a sentence to the topic whose mean embedding, its *prototype* `mu_c`, is nearest. **Proto-MAML**
# (Triantafillou et al., 2020) writes that rule as a linear head and starts the inner loop from it. The profile's
# `head: "prototype"` does this for every meta-learner; `protonet` is the same with no inner step at all.


# %%
# Checkpoints go to ../checkpoints (git-ignored; $XLMETA_OUTPUT/checkpoints if set): run this cell again after an
# interruption and every training run continues where it stopped; finished runs are loaded, not retrained.
checkpoints = checkpoints_dir() / RUN
trained = train_conditions(
    setup.training, CONFIG, METHODS, SEEDS, progress=True, device=device, out_dir=checkpoints
)
vocab = trained.vocab  # None for a Hugging Face encoder: its tokenizer is its vocabulary
example = trained.conditions[0].models[0]
print(example if vocab is not None else type(example).__name__ + f" on {MODEL}")
print(f"{count_parameters(example):,} parameters")
if vocab is not None:
    unknown = np.mean([vocab.word_id(f) == 1 for e in pool for f in e.forms])
    print(
        f"vocabulary {vocab.n_words} words, {vocab.n_chars} characters; {100 * unknown:.0f}% of French word tokens "
        "are unknown to it: characters must carry them."
    )
episode_size = CONFIG.n_way * (CONFIG.support_size + CONFIG.query_size)
print(
    f"episodes: {CONFIG.n_way}-way, K={CONFIG.support_size} support + {CONFIG.query_size} query per topic "
    f"({episode_size} sentences); {CONFIG.meta_batch} episodes per outer step, {CONFIG.steps} outer steps"
)

# %% [markdown]
# Learning curves: the training loss (for meta-learners the query loss after adaptation), and accuracy on held-out
# sentences of the **training** languages after adapting to a support set of K sentences per topic (French is not
# looked at during training). For the meta-learners that support set's labels are permuted too, so their accuracy
# *before* adaptation is at chance by design. Joint's "after" takes the meta-learners' inner step (`inner_lr`), which
# it was never trained for; its French budget is chosen on the French holdout like everyone's.
#
# Why the heads start from prototypes: a head at zero scores every topic the same, so before the inner step no logit
# depends on the body and the body's support gradient is exactly zero. One inner step then moves only the head, and
# Reptile's update, the distance the inner loop travelled, has no body component at all; in the first full run of
# this notebook FOMAML's and Reptile's training losses stayed at ln 7. Starting each task from its class
# prototypes gives every method a classifier before the first step and a body gradient through the prototypes
# (the engine computes them inside the inner loop, so the meta-gradient flows through them). The line printed under
# the curves says whether a method's final training loss is still ln 7, a uniform guess.

# %%
plot_learning_curves({m: [r.history for r in runs] for m, runs in trained.runs.items()}, smooth=10)
plt.tight_layout()
plt.show()
for method, runs in trained.runs.items():
    final = [r.validation[-1] for r in runs]
    before = np.mean([v["val_acc"] for v in final])
    if method == "joint":  # trained for fixed topic ids: an inner step on an episode's permuted labels is not its test
        print(f"{method:8s} held-out source accuracy: {100 * before:.1f}% with its own head (not adapted per episode)")
        continue
    after = np.mean([v["val_acc_adapted"] for v in final])
    print(f"{method:8s} held-out source accuracy: {100 * before:.1f}% before adaptation, {100 * after:.1f}% after")
final_losses = {m: [r.history[-1]["loss"] for r in runs] for m, runs in trained.runs.items()}
print(training_at_chance(final_losses, CONFIG.n_way))

# %% [markdown]
# ## 4 · French from K sentences per topic
#
# For each K, the same French support draws (K sentences of each topic, nested across K) for every condition; each
# condition fine-tuned with the budget (SGD step size and steps) that scored best on the French holdout; accuracy is
# the share of French test sentences whose topic is right. Intervals are 95% intervals for the crossed seeds × draws
# design (the same draws serve every seed: two-way random effects, as in notebook 03), verdicts read Holm-corrected
# p-values over the table, and the right-hand plot shows each condition's *paired* difference to joint. With fewer than 3 units a cell shows its
# draws' mean and no interval, and no verdict is drawn from it.
#
# **Predict, then run.** Scratch sees only 7K French sentences. At K = 1, will any initialisation learned on English
# and Spanish beat it, and by more than the noise between draws?

# %%
conditions = [*trained.conditions, *sib200.prototype_views(trained.conditions, settings["prototype_views"])]
neural = run_protocol(
    conditions, setup.splits, trained.encoder, PROTOCOL, progress=print, cache=checkpoints / "protocol"
)
# The calibration baseline, on the same draws; its C is chosen on the same holdout.
baseline, baseline_c = tfidf_result(setup.training, setup.splits, PROTOCOL, SEEDS, settings["tfidf_cs"])
print("TF-IDF C chosen on the holdout:", ", ".join(f"{name} C={c.c:g}" for name, c in baseline_c.items()))
result = merge_results([neural, baseline])
NAMES = [c.name for c in conditions] + list(baseline_c)
print(result.table(test_name))
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
plot_accuracy_vs_k(
    result.summary,
    ax=axes[0],
    title="French topic accuracy (95% CI)",
    metric="sentence accuracy",
    k_label="K (French sentences per topic)",
)
plot_paired_differences(result.summary, ax=axes[1])
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Exercise 3 · Accuracy against chance
#
# A topic classifier is not judged against 0%. Two chance levels matter: **1/N**, guessing uniformly among the N
# outputs, and the **majority topic's share**, always answering the most frequent topic. The French test set is
# not balanced (science/technology is a quarter of it), so the second is higher. Return the accuracy of `predicted`
# against `y`, 1/`n_classes`, and the share of `y`'s most frequent topic.


# %% tags=["exercise"]
def accuracy_against_chance(predicted, y, n_classes):
    """(accuracy, 1 / n_classes, share of the most frequent topic in y)."""
    # BEGIN SOLUTION (exercise 04.3)
    accuracy = (predicted == y).float().mean().item()
    majority = Counter(y.tolist()).most_common(1)[0][1] / len(y)
    return accuracy, 1 / n_classes, majority
    # END SOLUTION


# %%
accuracy_against_chance = check("04.3", accuracy_against_chance)
test_data = trained.encoder.encode(test_examples)
joint_model = next(c for c in trained.conditions if c.name == "joint").models[0]
zero_shot = accuracy_against_chance(predict(joint_model, None, test_data.x), test_data.y, len(SIB_LABELS))
print(chance_sentence(*zero_shot, "joint at K=0 (zero-shot), first seed"))
uniform, majority = zero_shot[1], zero_shot[2]
for name in ["scratch", *METHODS]:
    row = result.get(name, 0, test_name)
    print(chance_sentence(row["mean"], uniform, majority, f"{name} at K=0"))
uniform, majority, top = chance_levels([e.label for e in test_examples], len(SIB_LABELS))
print(f"(the majority topic of the French test set is {top})")
print(chance_report(result, NAMES, list(PROTOCOL.ks), test_name, uniform, majority))

# %% [markdown]
# The meta-learners' K = 0 lines answer the first prediction: trained on permuted labels, they have no labelling of
# their own, so any accuracy away from chance at K = 0 is luck of the initial head, not knowledge of French topics.
# Scratch at K = 0 lands on the majority share exactly: its zero head scores every topic the same, and `argmax`
# breaks the tie at output 0, science/technology, which happens to be the most frequent topic. A baseline that
# looks like 25% is sometimes 0% knowledge. A prototype head needs a support set, so at K = 0 every meta-learner
# answers with its own (zero) head: the same tie, the same majority share.
#
# ## 5 · What the numbers say
#
# Generated from the table above: at every K which conditions clear the majority topic with their whole interval,
# each meta-learner against joint (paired), each condition's difference to joint, and the budgets the holdout chose
# (`steps = 0` means it chose not to fine-tune).

# %%
positive_ks = [k for k in PROTOCOL.ks if k > 0]
print(zero_shot_sentence(result, test_name, model="classifier"))
print(comparisons_at(result, ["scratch", *METHODS], positive_ks, test_name))
print(small_sample_note(len(SEEDS), PROTOCOL.n_draws, PROFILE))
print(budget_lines(result, PROTOCOL))
meta_names = [m for m in METHODS if m != "joint"]
print(chance_takeaway(result, NAMES, meta_names, list(PROTOCOL.ks), test_name, uniform, majority))
# joint is judged by its own head (no inner step), a meta-learner after its inner loop: what each was trained for
source_accuracy = {
    m: np.mean([r.validation[-1]["val_acc" if m == "joint" else "val_acc_adapted"] for r in runs])
    for m, runs in trained.runs.items()
}
final_loss = {m: float(np.mean(losses)) for m, losses in final_losses.items()}
zero_shot_joint = result.get("joint", 0, test_name)["mean"]
print(
    diagnosis(
        source_accuracy=source_accuracy,
        final_loss=final_loss,
        zero_shot=zero_shot_joint,
        budgets={n: (b.lr, b.steps) for n, b in result.budgets.items()},
        n_way=CONFIG.n_way,
        uniform=uniform,
        majority=majority,
    )
)

# %% [markdown]
# ## 6 · How many languages?
#
# Two training languages are few tasks for meta-learning to generalise over. SIB-200 has the same sentences in 20
# more languages (French excluded), so we can add languages without adding topics or sentences per language. The
# order is fixed before looking at any result: English and Spanish, then the other Latin-script languages, then
# Russian, Chinese, Arabic, Hindi and Japanese; the runs use the first 2, 5, 10 and 20.
#
# **The budget held fixed** is the number of outer steps with a fixed meta-batch of episodes, each episode drawn from
# one of the N languages. So the number of outer steps does not shrink as N grows (an earlier feasibility run that
# put every language in every meta-step got a tenth of the outer steps and stayed undertrained), and since every
# episode has the same size, the sentence passes are matched too, for every N and between joint and the
# meta-learners. What changes is the variety: with 20 languages each is seen a tenth as often as with 2. The
# vocabulary, and so the word-embedding table, grows with N; the rest of the model does not.
#
# **No confound in the budgets.** Each size chooses every condition's fine-tuning budget on the French holdout
# afresh, with `steps = 0` in the grid, so a size whose fine-tuning would hurt can refuse it, and K = 0 (no French
# at all) is scored beside the K-shot points: a difference between sizes is then a difference between
# initialisations, not between step sizes chosen for them.
#
# **Predict, then run.** At the same budget, will 20 languages help French more than 2? Will they help joint and the
# meta-learners equally? (Notebook 05 asks *which* languages help and why.)

# %%
sweep = sib200.language_sweep(
    settings,
    SEED,
    SEEDS,
    checkpoints=checkpoints,
    model=MODEL,
    progress=True,
    device=device,
    report=print,
)
for n, runs in sweep.trained.items():
    words = f"vocabulary {runs.vocab.n_words} words, " if runs.vocab is not None else ""
    size = count_parameters(runs.conditions[0].models[0])
    print(f"{n:2d} languages ({', '.join(TRAINING_LANGUAGES[:n][-3:])}, ...): {words}{size:,} parameters")
sweep_k = max(settings["sweep_ks"])
sweep_methods = [*sweep.methods, *(f"{m}-proto" for m in settings["prototype_views"] if m in sweep.methods)]
plot_accuracy_vs_languages(sweep.result.summary, sweep_methods, sweep.sizes, sweep_k, test_set=test_name)
plt.tight_layout()
plt.show()
for k in settings["sweep_ks"]:
    print(languages_report(sweep.result, sweep_methods, sweep.sizes, k, test_name), end="\n\n")
print(budget_lines(sweep.result, PROTOCOL))
print(small_sample_note(len(SEEDS), PROTOCOL.n_draws, PROFILE))

# %% [markdown]
# ## 7 · Results, and the reference run
#
# The numbers are written with their provenance (config, seeds, package versions, git commit) under `results/`: the
# main protocol and the language sweep, each with its per-unit rows. When the `full` profile's results are committed
# under `results/reference/`, a `quick` run shows them beside its own.

# %%
config = {"profile": PROFILE, "model": MODEL, "settings": dict(settings), "train": CONFIG.to_dict()}
paths = write_protocol_results(result, RUN, config=config, seeds=SEEDS, out_dir=results_dir())
paths_sweep = write_protocol_results(
    sweep.result,
    f"{RUN}-languages",
    config={**config, "sizes": list(sweep.sizes)},
    seeds=SEEDS,
    out_dir=results_dir(),
)
print("written:", ", ".join(str(p) for p in [*paths.values(), *paths_sweep.values()]))
if PROFILE != "full" and MODEL == sib200.WORD_MODEL:
    committed = ProtocolResult.read(reference_dir() / f"{sib200.NOTEBOOK}-full.json")
    print(reference_report(reference_dir() / f"{sib200.NOTEBOOK}-full.json", test_name))
    # this run's means as points, over the reference's lines and intervals
    plot_beside_reference(result.summary, committed.summary, test_set=test_name, metric="sentence accuracy")
    plt.show()
    print(reference_report(reference_dir() / f"{sib200.NOTEBOOK}-full-languages.json", test_name))  # the sweep's
k_last = max(PROTOCOL.ks)
best = result.best_on_holdout([m for m in METHODS if m != "joint"])  # chosen on the French holdout, not test
report_key_result(
    f"K={k_last}/topic fr: {headline(result, 'joint', k_last, test_name)}, best meta on the holdout "
    f"{headline(result, best, k_last, test_name)} ({difference_headline(result, best, k_last, test_name)})"
)
print(f"wall time: {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ### Exercise 4 · A meta-learner against joint, at a K you choose (open-ended)
#
# Pick one meta-learner of this run and one K above 0, and say what the protocol's paired units support:
# `units(condition, k)` gives `{(seed, draw): accuracy}` on the French test set. Return `{"method": ..., "k": ...,
# "difference": (mean, low, high), "verdict": "better", "worse" or "no claim"}`, where the difference is the
# meta-learner's minus joint's accuracy, unit by unit, with its unit-level 95% t-interval, and a direction is claimed only
# when the interval excludes 0.
#
# *Rubric.* Say why you chose that K (where would a meta-learned initialisation help most, and why), read the
# interval's width before its sign, and say what would make a claim possible here (more seeds or draws: at `quick`
# there are two units, and "no claim" is the honest verdict more often than not).

# %% tags=["exercise", "open"]
def versus_joint(units, methods, ks):
    """{"method", "k", "difference": (mean, low, high), "verdict"}: one meta-learner minus joint at one K."""
    # BEGIN SOLUTION (exercise 04.4)
    from xlmeta_lab.experiments.protocol.stats import paired_difference

    method, k = next(m for m in methods if m != "joint"), min(k for k in ks if k > 0)
    interval = paired_difference(units(method, k), units("joint", k))
    verdict = "better" if interval.low > 0 else "worse" if interval.high < 0 else "no claim"
    return {"method": method, "k": k, "difference": (interval.mean, interval.low, interval.high), "verdict": verdict}
    # END SOLUTION


# %%
from xlmeta_lab.teaching.exercises.readings import protocol_units

versus = check("04.4", versus_joint, protocol_units(result, test_name), METHODS, list(PROTOCOL.ks))

# %% [markdown]
# ### Exercise 5 · The prototype head
#
# `features` holds one embedding per support sentence `[S, D]`, `labels` its topic `[S]`. Return the head
# `(W [n_classes, D], b [n_classes])` whose scores `W x + b` pick the nearest prototype in squared Euclidean
# distance. Expand `-||x - mu_c||^2` and drop the term that is the same for every topic.


# %% tags=["exercise"]
def my_prototype_head(features, labels, n_classes):
    """(W, b) with W_c = 2 mu_c and b_c = -||mu_c||^2, mu_c the mean of class c's features."""
    # BEGIN SOLUTION (exercise 04.5)
    mu = torch.stack([features[labels == c].mean(0) for c in range(n_classes)])
    return 2 * mu, -(mu**2).sum(1)
    # END SOLUTION


# %%
my_prototype_head = check("04.5", my_prototype_head)


# %% [markdown]
# ### Exercise 6 · Diagnose a result at chance
#
# When a condition sits at chance, take the causes in order: did it learn the **source** task (held-out source
# accuracy after adaptation; a final training loss at ln N is a uniform guess, and one above ln N is worse than
# that)? Does anything carry over with **no French** at all (zero-shot)? Did **fine-tuning** help or hurt (the
# chosen budget, against zero-shot)? Return `"training"`, `"transfer"`, `"fine-tuning"` or `"none"` for a dict of
# that evidence; the next cell applies your
# function to every meta-learner of this run.


# %% tags=["exercise"]
def diagnose(evidence):
    """'training', 'transfer', 'fine-tuning' or 'none': why French accuracy is at chance, if it is."""
    # BEGIN SOLUTION (exercise 04.6)
    ln_n = math.log(evidence["n_way"])
    if evidence["final_loss"] >= 0.98 * ln_n or evidence["source_accuracy"] <= evidence["majority"]:
        return "training"
    if evidence["accuracy"] <= evidence["majority"] and evidence["zero_shot"] <= evidence["majority"]:
        return "transfer"
    if evidence["accuracy"] < evidence["zero_shot"] and evidence["steps"] > 0:
        return "fine-tuning"
    return "none"
    # END SOLUTION


# %%
diagnose = check("04.6", diagnose)
k_diagnosed = max(k for k in PROTOCOL.ks if k <= 4)
for name in meta_names:
    evidence = {
        "n_way": CONFIG.n_way,
        "majority": majority,
        "final_loss": final_loss[name],
        "source_accuracy": source_accuracy[name],
        "zero_shot": zero_shot_joint,
        "accuracy": result.get(name, k_diagnosed, test_name)["mean"],
        "steps": result.budgets[name].steps,
    }
    print(f"{name} at K={k_diagnosed}: {diagnose(evidence)}")


# %% [markdown]
# ## What to take away
#
# * A sentence-level task fits the same machinery as tagging: episodes of fixed shape, the engine batching them with
#   `vmap`, the paired protocol with budgets chosen on French dev and French test only scored.
# * **Permute the labels** of every episode when meta-learning a classifier with few classes; otherwise the head
#   memorises the labelling and the initialisation need not learn to adapt. The price is K = 0: a meta-learned
#   initialisation has no labelling, so its zero-shot accuracy is chance by construction; only joint has a
#   zero-shot point.
# * Judge a topic classifier against **two** chance levels, 1/N and the majority topic; on an unbalanced test set
#   the second is the one to beat. Section 5 printed, for this run, which conditions' intervals clear it at each K.
# * A few-shot classifier's **head** should start from the support set: a zero head gives first-order methods no
#   body gradient from one inner step, and lets fine-tuning wander below zero-shot. Prototypes (Proto-MAML) start
#   every task from a classifier; a prototypical network stops there.
# * **No fine-tuning is a budget**: with `steps = 0` in the grid the holdout can refuse to fine-tune.
# * Calibrate against a **plain baseline** before reading a meta-learning result: the TF-IDF rows say what
#   spelling alone buys on the same draws.
# * With parallel data, **leakage is about translations**, not only about sentences: check the `index_id`, and make
#   the check able to fail.
# * "More languages" is only an experiment if a **budget is held fixed** and named: here outer steps × meta-batch,
#   which also fixes the sentences seen. Whatever section 6 printed, with its intervals, is this run's answer; the
#   `quick` profile's few units cannot give one.
#
# Next, notebook 05 asks which source languages transfer to French and why.
#
# **References.** Adelani et al. (2024), *SIB-200: A Simple, Inclusive, and Big Evaluation Dataset for Topic
# Classification in 200+ Languages and Dialects*, arXiv:2309.07445 · NLLB Team (2022), *No Language Left Behind*
# (FLORES-200) · Finn, Abbeel, Levine (2017), *MAML*, arXiv:1703.03400 · Raghu et al. (2020), *ANIL*,
# arXiv:1909.09157 · Ye and Chao (2022), *How to train your MAML to excel in few-shot classification*,
# arXiv:2106.16245 · Snell, Swersky, Zemel (2017), *Prototypical Networks for Few-shot Learning*, arXiv:1703.05175 ·
# Triantafillou et al. (2020), *Meta-Dataset* (Proto-MAML), arXiv:1903.03096.

# %%
# Your progress: a check that has not run, or has failed, counts as not done (hint("04.1") and so on for help).
done, total = exercises_done("04")
