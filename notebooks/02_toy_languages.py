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
# # 02 · Toy languages: when does meta-learning help a new language?
#
# Notebook 01 derived the meta-gradient. Here we put it to work on languages whose relatedness we control.
# `xlmeta_lab.data.toy` generates a family of synthetic languages that share one grammar (the same part-of-speech
# tags, the same phrase template) but have their own word forms and word order:
#
# * **"en"** has its own lexicon and puts adjectives before nouns: the distant one;
# * **"es"** puts adjectives after nouns;
# * **"fr"** has Spanish word order and *borrows* a share `relatedness` of its word forms from "es" (some
#   with a small spelling change), like cognates.
#
# The task is part-of-speech tagging. We learn an initialisation $\theta_0$ on en + es and ask how well each
# initialisation tags French after fine-tuning on **K French sentences**. The conditions:
#
# | condition | initialisation of the French tagger |
# | --- | --- |
# | scratch | random weights (no en/es at all) |
# | joint | ordinary training on en + es sentences (the strong, honest baseline) |
# | zero-shot | the joint model with **no** French fine-tuning: its K = 0 point |
# | MAML, FOMAML, Reptile, ANIL | meta-trained on en/es episodes (`xlmeta_lab.experiments.training`) |
#
# Every number printed below comes from this run; the text around it is generated from the numbers, so when an
# effect does not show up in your run, the notebook says so. The computation lives in `xlmeta_lab.experiments`
# (training, the few-shot protocol, statistics) and the sentences in `xlmeta_lab.teaching.report`.

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
from dataclasses import replace

import matplotlib.pyplot as plt

from xlmeta_lab.data.toy import form_overlap
from xlmeta_lab.episodes.samplers import TaggingEpisodeSampler
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.experiments.conditions import train_conditions
from xlmeta_lab.experiments.protocol import merge_results, run_protocol, write_protocol_results
from xlmeta_lab.experiments.toy import toy_setup
from xlmeta_lab.teaching.notebook import report_key_result, results_dir, start_notebook
from xlmeta_lab.teaching.plots import plot_accuracy_vs_k, plot_learning_curves, plot_paired_differences
from xlmeta_lab.teaching.report import (
    budget_lines,
    comparisons_at,
    describe_difference,
    difference_headline,
    headline,
    negative_transfer_verdict,
    show_tagged,
    small_sample_note,
    zero_shot_sentence,
)

PROFILE, settings, device = start_notebook("02_toy_languages", PROFILE, SEED, DEVICE)
started = time.perf_counter()
setup = toy_setup(settings, SEED)
CONFIG, PROTOCOL, SEEDS = setup.train_config, setup.protocol, setup.seeds
METHODS = list(settings["methods"])
# These models are tiny: a GPU's launch overhead outweighs its speed here, so we train on the CPU.
TRAIN_DEVICE = "cpu"

# %% [markdown]
# ## 1 · The languages
#
# Three sentences per language, word over tag. Look for the shared skeleton (determiner, noun, verb, ...), the
# different word order of en, and the French words that are (nearly) Spanish words.

# %%
for lang in ("en", "es", "fr"):
    print(f"[{lang}]")
    print(show_tagged(setup.languages[lang], 3))

overlap = {src: form_overlap(setup.languages["fr"], setup.languages[src]) for src in ("en", "es")}
print(
    f"Share of French word types that also occur in the training data: "
    f"es {100 * overlap['es']:.0f}%, en {100 * overlap['en']:.0f}% (relatedness={settings['relatedness']})."
)
print(
    f"French: {len(setup.splits.support_pool)} sentences to draw support sets from, {len(setup.splits.holdout)} "
    f"held out to choose the fine-tuning budget, {len(setup.splits.tests['fr-test'])} for the test only."
)

# %% [markdown]
# ## 2 · What the meta-learner sees
#
# One **episode** (task) = one language, a **support** set of `support_size` sentences to adapt on and a disjoint
# **query** set to score the adapted weights. The outer loop never sees a French sentence; French arrives only at
# test time, as a support set of K sentences.

# %%
sampler = TaggingEpisodeSampler(
    [s for part in setup.training.values() for s in part],
    Vocab.build(s for part in setup.training.values() for s in part),
    CONFIG.support_size,
    CONFIG.query_size,
    CONFIG.max_len,
    seed=SEED,
)
episode = sampler.draw()
print(
    f"An episode from {episode.lang!r}: support {len(episode.support)} sentences, query {len(episode.query)}; "
    f"tensor shapes x={tuple(episode.task.support.x.word_ids.shape)} (sentences, words), "
    f"chars={tuple(episode.task.support.x.char_ids.shape)}."
)
print("first support sentence:", " ".join(episode.support[0].forms))
print(
    f"Each meta-step takes {CONFIG.meta_batch} episodes, adapts with {CONFIG.inner_steps} SGD step(s) of "
    f"inner_lr={CONFIG.inner_lr}, and moves theta_0 with Adam (outer_lr={CONFIG.outer_lr}) for {CONFIG.steps} steps."
)

# %% [markdown]
# ## 3 · Training every initialisation
#
# Each method is trained for every seed on the same en + es sentences. The joint baseline draws its sentences from
# the same episode sampler and is given the same budget in *sentence forward/backward passes* as MAML
# (see `xlmeta_lab.experiments.config`'s docstring). Every run validates on held-out en/es sentences (never French).

# %%
trained = train_conditions(setup.training, CONFIG, METHODS, SEEDS, progress=True, device=TRAIN_DEVICE)
vocab = trained.vocab
plot_learning_curves({m: [r.history for r in runs] for m, runs in trained.runs.items()}, smooth=5)
plt.tight_layout()
plt.show()
for method, runs in trained.runs.items():
    final = [r.validation[-1]["val_acc_adapted"] for r in runs]
    print(
        f"{method:8s} final en/es validation accuracy after adaptation: {100 * sum(final) / len(final):.1f}%"
    )

# %% [markdown]
# ## 4 · French from K sentences
#
# The protocol (`xlmeta_lab.experiments.protocol.run_protocol`): for each K, the same `n_draws` support sets for every
# condition; each condition gets the fine-tuning budget (SGD step size and number of steps) that scores best on the
# French *holdout* — chosen before any test sentence is read; accuracy counts real words only. Intervals are 95%
# t-intervals over seeds × draws.

# %%
result = run_protocol(trained.conditions, setup.splits, vocab, PROTOCOL, progress=print)
print(result.table())
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
plot_accuracy_vs_k(result.summary, ax=axes[0])
plot_paired_differences(result.summary, ax=axes[1])
plt.tight_layout()
plt.show()

# %% [markdown]
# What the run says, sentence by sentence (generated from the numbers above):

# %%
k_small = min(k for k in PROTOCOL.ks if k > 0)
k_mid = 5 if 5 in PROTOCOL.ks else max(PROTOCOL.ks)
print(zero_shot_sentence(result))
print(comparisons_at(result, [c.name for c in trained.conditions], sorted({k_small, k_mid})))
print(small_sample_note(len(SEEDS), PROTOCOL.n_draws, PROFILE))
report_key_result(
    f"K={k_mid} French: {headline(result, 'scratch', k_mid)}, {headline(result, 'joint', k_mid)}, "
    f"{headline(result, 'maml', k_mid)} (maml {difference_headline(result, 'maml', k_mid)})"
)
print(budget_lines(result, PROTOCOL))

# %% [markdown]
# ## 5 · Negative transfer: does a distant language help or hurt?
#
# Same method (MAML), same steps, three training sets: en only (distant: own lexicon, other word order), es only
# (close: French borrows its words and shares its order) and both. If adding en to es *lowers* French accuracy, en
# transferred negatively: its episodes pulled $\theta_0$ towards something French does not need. Each training set
# has its own vocabulary, so each is evaluated by its own protocol run on the same French draws, and the results
# are merged for paired comparison with "en+es".

# %%
groups = {"en only": ["en"], "es only": ["es"]}
neg_protocol = replace(PROTOCOL, ks=tuple(k for k in PROTOCOL.ks if 0 < k <= 10))
parts = []
for label, langs in groups.items():
    runs = train_conditions(
        {lang: setup.training[lang] for lang in langs},
        CONFIG,
        ["maml"],
        SEEDS,
        scratch=False,
        device=TRAIN_DEVICE,
    )
    cond = replace(runs.conditions[0], name=label)
    parts.append(run_protocol([cond], setup.splits, runs.vocab, neg_protocol))
both = replace(next(c for c in trained.conditions if c.name == "maml"), name="en+es")
parts.append(run_protocol([both], setup.splits, vocab, neg_protocol))
negative = merge_results(parts, baseline="en+es")
print(negative.table())
plot_accuracy_vs_k(negative.summary, title="MAML on different training languages, French test (95% CI)")
plt.show()

# %%
for k in neg_protocol.ks:
    en, es = negative.get("en only", k), negative.get("es only", k)
    print(describe_difference(en) + " " + describe_difference(es))
k = k_mid if k_mid in neg_protocol.ks else neg_protocol.ks[-1]
print(negative_transfer_verdict(negative, k, close="es only", label="en"))

# %% [markdown]
# ## 6 · Results file and the explorer
#
# The protocol's numbers are written with their provenance (config, seeds, versions, git commit) under `results/`.

# %%
paths = write_protocol_results(
    merge_results([result, negative], baseline="joint"),
    f"02_toy_languages-{PROFILE}-seed{SEED}",
    config={"profile": PROFILE, "settings": dict(settings), "train": CONFIG.to_dict()},
    seeds=SEEDS,
    out_dir=results_dir(),
)
print("written:", ", ".join(str(p) for p in paths.values()))
print(f"wall time so far: {time.perf_counter() - started:.0f} s")

# %% [markdown]
# Try it yourself: move **relatedness** (0 = French shares no word forms with Spanish), **K** and the number of
# **inner steps**, pick a method and press *Run*. One click trains small models for a few seconds and adds a point
# to the right-hand plot, so you can trace when the meta-learned (or joint) initialisation stops helping.

# %%
from xlmeta_lab.teaching.widgets import ToyExplorer

explorer = ToyExplorer(seed=SEED)
explorer.widget
