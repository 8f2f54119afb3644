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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xlmeta-lab/xlmeta-lab/blob/main/notebooks/02_toy_languages.ipynb)
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
# | MAML, FOMAML, Reptile, ANIL | meta-trained on en/es episodes (`xlmeta_lab.experiments.training.loop`) |
#
# **Learning objectives.** You will be able to
# 1. measure how related two lexicons are, as the share of one language's word forms the other has (exercise 1);
# 2. draw a meta-learning **episode**, a support set and a disjoint query set from one language, seeded, and refuse
#    an impossible one (exercise 2);
# 3. score a tagger on real words only, leaving padding out (exercise 3), and fine-tune an initialisation on K
#    sentences as the protocol does (exercise 4), reproducing one of the protocol's numbers by hand;
# 4. read a few-shot comparison as paired differences with 95% intervals, and say when a run is too small for a claim;
# 5. test for negative transfer from a distant language, and explore relatedness, K and inner steps with a widget.
#
# **Prerequisites**: notebook 01 (the inner step, first-order MAML, Reptile); Python sets and dicts; PyTorch tensors.
# No data to download: the languages are generated.
#
# **Run time** (wall time with papermill, recorded in `xlmeta_lab/reference/timings.json` by `xlmeta workbook --time`;
# machines in the README): `quick` 38 s on CPU; `full` 20 min on CPU (the committed reference run, on a busy machine:
# an idle one takes less); not measured on a GPU. `PROFILE = "auto"` runs the largest profile measured on your kind of
# hardware to finish within 10 min and prints its estimate; it never starts `full` (set `PROFILE = "full"` for that).
#
# **Exercises**: cells tagged `exercise` hold the solutions between `# BEGIN SOLUTION` and `# END SOLUTION`;
# `xlmeta workbook --student DIR` writes copies where they are yours to write. The cell after each one checks your
# function on small problems of its own and says what is wrong if it is (support and query overlapping, padding
# counted, a Jaccard index instead of a share, a step uphill). Later cells use your functions. **Predict, then run**
# prompts ask you to commit to an answer before the next cell shows it.
#
# Every number printed below comes from this run; the text around it is generated from the numbers, so when an
# effect does not show up in your run, the notebook says so. The computation lives in `xlmeta_lab.experiments`
# (training, the few-shot protocol, statistics) and the sentences in `xlmeta_lab.teaching.reports.wording`.

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
import random
import time
from dataclasses import replace

import matplotlib.pyplot as plt
import torch

from xlmeta_lab.episodes.encoders import encode_buckets
from xlmeta_lab.episodes.samplers import TaggingEpisodeSampler, support_draws
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.experiments.adaptation.scoring import predict
from xlmeta_lab.experiments.protocol.results import ProtocolResult, merge_results, write_protocol_results
from xlmeta_lab.experiments.protocol.run import run_protocol
from xlmeta_lab.experiments.protocol.stats import units_of
from xlmeta_lab.experiments.studies.conditions import train_conditions
from xlmeta_lab.experiments.studies.toy import toy_setup
from xlmeta_lab.meta import call_model
from xlmeta_lab.models.tagger import tagging_loss
from xlmeta_lab.teaching.exercises import check, exercises_done, hint  # noqa: F401 (hint: yours to call)
from xlmeta_lab.teaching.notebook import reference_dir, report_key_result, results_dir, start_notebook
from xlmeta_lab.teaching.plots.protocol import (
    plot_accuracy_vs_k,
    plot_learning_curves,
    plot_paired_differences,
)
from xlmeta_lab.teaching.reports.wording import (
    budget_lines,
    comparisons_at,
    describe_difference,
    difference_headline,
    head_only_sentence,
    headline,
    negative_transfer_verdict,
    reference_report,
    show_tagged,
    small_sample_note,
    steps_and_advantage,
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
print(
    f"French: {len(setup.splits.support_pool)} sentences to draw support sets from, {len(setup.splits.holdout)} "
    f"held out to choose the fine-tuning budget, {len(setup.splits.tests['fr-test'])} for the test only."
)

# %% [markdown]
# ### Exercise 1 · How related are two lexicons?
#
# What an embedding trained on Spanish can reuse for French is the French word forms it has already seen. Write
# `form_overlap(a, b)`: the share of the **word types** (distinct forms) of `a` that also occur in `b`, leaving out
# punctuation (tag `"PUNCT"`: `.` and `?` are in every language). Each sentence has `.forms` and `.tags`. The check
# compares with `xlmeta_lab.data.toy.form_overlap` and recognises the usual slips (tokens for types, the union as
# denominator, punctuation counted).

# %% tags=["exercise"]
def form_overlap(a, b):
    """Share of the word types of a (punctuation left out) that also occur in b."""
    # BEGIN SOLUTION (exercise 02.1)
    types_a = {form for s in a for form, tag in zip(s.forms, s.tags) if tag != "PUNCT"}
    types_b = {form for s in b for form, tag in zip(s.forms, s.tags) if tag != "PUNCT"}
    return len(types_a & types_b) / len(types_a)
    # END SOLUTION


# %%
form_overlap = check("02.1", form_overlap)

# %% [markdown]
# **Predict, then run.** This run's French borrows a share `relatedness` of its word forms from Spanish (the settings
# line above gives it). What share of French word types will you find in the Spanish *training sentences*: about
# `relatedness`, more, or less? And in the English ones?

# %%
overlap = {src: form_overlap(setup.languages["fr"], setup.training[src]) for src in ("en", "es")}
print(
    f"Share of French word types that also occur in the training sentences: "
    f"es {100 * overlap['es']:.0f}%, en {100 * overlap['en']:.0f}% (relatedness={settings['relatedness']})."
)

# %% [markdown]
# `relatedness` is the share of French *concepts* whose form is borrowed, and two things stand between it and what
# a Spanish-trained embedding knows: a borrowed form may carry a small spelling change (a different string, so a
# different word to an embedding, though not to the character CNN), and a borrowed word counts only if it occurs in
# the Spanish sentences we train on, a sample of Spanish rather than its lexicon. English shares only the few forms
# that coincide by chance.

# %% [markdown]
# ## 2 · What the meta-learner sees
#
# One **episode** (task) = one language, a **support** set of `support_size` sentences to adapt on and a disjoint
# **query** set to score the adapted weights. The outer loop never sees a French sentence; French arrives only at
# test time, as a support set of K sentences.
#
# ### Exercise 2 · An episode sampler
#
# Write `sample_episode(sentences, lang, k, query_size, seed)`: from the sentences of language `lang` (each has
# `.lang`), draw `k` support sentences and `query_size` query sentences, all distinct, so that support and query
# never share a sentence; the same `seed` must give the same episode (use a generator of your own,
# `random.Random(seed)`). If `k + query_size` is more than the language has, raise a `ValueError` that says so.
# The check also tells you whether your draws are exactly the package's `TaggingEpisodeSampler`'s.

# %% tags=["exercise"]
def sample_episode(sentences, lang, k, query_size, seed):
    """(support, query): k and query_size distinct sentences of language lang, disjoint, seeded."""
    # BEGIN SOLUTION (exercise 02.2)
    pool = [s for s in sentences if s.lang == lang]
    if k + query_size > len(pool):
        raise ValueError(
            f"K={k} support + {query_size} query sentences need {k + query_size} distinct sentences, "
            f"but the {lang!r} pool has {len(pool)}"
        )
    picked = random.Random(seed).sample(range(len(pool)), k + query_size)
    return [pool[i] for i in picked[:k]], [pool[i] for i in picked[k:]]
    # END SOLUTION


# %%
sample_episode = check("02.2", sample_episode)

# %%
training_sentences = [s for part in setup.training.values() for s in part]
support, query = sample_episode(training_sentences, "es", CONFIG.support_size, CONFIG.query_size, SEED)
print(f"Your sampler, an 'es' episode: support {len(support)} sentences, query {len(query)}.")
print("first support sentence:", " ".join(support[0].forms))
sampler = TaggingEpisodeSampler(
    training_sentences,
    Vocab.build(training_sentences),
    CONFIG.support_size,
    CONFIG.query_size,
    CONFIG.max_len,
    seed=SEED,
)
episode = sampler.draw("es")
same = [s.sent_id for s in episode.support + episode.query] == [s.sent_id for s in support + query]
print(f"The package's sampler with the same seed draws {'the same' if same else 'other'} sentences.")
print(
    f"As tensors: x={tuple(episode.task.support.x.word_ids.shape)} (sentences, words), "
    f"chars={tuple(episode.task.support.x.char_ids.shape)} (sentences, words, characters)."
)
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
# The protocol (`xlmeta_lab.experiments.protocol.run.run_protocol`): for each K, the same `n_draws` support sets for every
# condition; each condition gets the fine-tuning budget (SGD step size and number of steps) that scores best on the
# French *holdout*, chosen before any test sentence is read; accuracy counts real words only. Intervals are 95%
# intervals for the crossed seeds × draws design (notebook 03, section 5, says why).
#
# **Predict, then run.** Which initialisation will tag French best after a single sentence (K = 1), and how far
# behind will scratch be? ANIL adapts only the tag head at test time: will it keep up with MAML as K grows?

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
print(head_only_sentence(result, "anil"))
print(steps_and_advantage(result, "maml", CONFIG.inner_steps, PROTOCOL))
print(small_sample_note(len(SEEDS), PROTOCOL.n_draws, PROFILE))
report_key_result(
    f"K={k_mid} French: {headline(result, 'scratch', k_mid)}, {headline(result, 'joint', k_mid)}, "
    f"{headline(result, 'maml', k_mid)} (maml {difference_headline(result, 'maml', k_mid)})"
)
print(budget_lines(result, PROTOCOL))

# %% [markdown]
# ANIL adapts only the tag head, at test time as in training; the features underneath (character CNN, word
# embedding, context convolutions) stay where en + es training left them. French word forms differ from the ones
# those features were trained on, and a head can only re-weigh the features it is given, so if ANIL falls behind,
# expect the gap *not* to close as K grows. The sentence above says what this run shows.

# %% [markdown]
# ## 5 · By hand: scoring and fine-tuning
#
# Two pieces of the protocol, written by you and then used to reproduce one of its numbers.
#
# ### Exercise 3 · Token accuracy, padding left out
#
# Sentences of different lengths are padded to one length; padding positions carry the gold tag `-100`, and the
# tagger predicts *some* tag there anyway. Write `token_accuracy(predicted, gold)` (tag-id tensors of one shape,
# 2-D or flat): the share of **real** words tagged correctly, as a float. The check compares with
# `xlmeta_lab.experiments.adaptation.scoring.count_correct`.

# %% tags=["exercise"]
def token_accuracy(predicted, gold):
    """Share of real words (gold != -100) whose predicted tag is the gold one."""
    # BEGIN SOLUTION (exercise 02.3)
    real = gold != -100
    correct = (predicted == gold) & real
    return correct.sum().item() / real.sum().item()
    # END SOLUTION


# %%
token_accuracy = check("02.3", token_accuracy)

# %% [markdown]
# ### Exercise 4 · Fine-tuning on K sentences
#
# At test time each initialisation is adapted with plain SGD on the K support sentences: the inner loop of
# meta-training, run for the budget the holdout chose. Write `finetune_by_hand(model, support, lr, steps)`: start
# from a *copy* of the model's weights (`{name: p.detach().clone().requires_grad_(True)}`), and `steps` times take
# the loss `tagging_loss(call_model(model, params, support.x), support.y)`, its gradient with
# `torch.autograd.grad`, and a step `p - lr * g`. Return the adapted weights as a dict. The check compares with
# `xlmeta_lab.experiments.adaptation.finetune.finetune`, which the protocol uses.

# %% tags=["exercise"]
def finetune_by_hand(model, support, lr, steps):
    """steps SGD steps of size lr on the support set's tagging loss, from a copy of the model's weights."""
    # BEGIN SOLUTION (exercise 02.4)
    params = {name: p.detach().clone().requires_grad_(True) for name, p in model.named_parameters()}
    for _ in range(steps):
        loss = tagging_loss(call_model(model, params, support.x), support.y)
        grads = torch.autograd.grad(loss, list(params.values()))
        params = {
            name: (p - lr * g).detach().requires_grad_(True) for (name, p), g in zip(params.items(), grads)
        }
    return {name: p.detach() for name, p in params.items()}
    # END SOLUTION


# %%
finetune_by_hand = check("02.4", finetune_by_hand)

# %% [markdown]
# **Predict, then run.** Take the joint model of the first seed, as it is and after fine-tuning on the protocol's
# first K-sentence draw with the budget the holdout chose for it. How many points will those K French sentences add?
# And how different would the accuracy look if padding counted as wrong?

# %%
joint_model = next(c for c in trained.conditions if c.name == "joint").models[0]
budget = result.budgets["joint"]
draws = support_draws(setup.splits.support_pool, k_mid, PROTOCOL.n_draws, PROTOCOL.draw_seed)
longest = max(len(s) for draw in draws for s in draw)  # the protocol pads all draws of one K alike
adapted = finetune_by_hand(joint_model, trained.encoder.encode(draws[0], longest), budget.lr, budget.steps)
buckets = encode_buckets(setup.splits.tests["fr-test"], trained.encoder)
gold = torch.cat([b.y.reshape(-1) for b in buckets])
as_it_is = torch.cat([predict(joint_model, None, b.x).reshape(-1) for b in buckets])
after = torch.cat([predict(joint_model, adapted, b.x).reshape(-1) for b in buckets])
protocol_zero = units_of(result.rows, "joint", 0, "fr-test")[(SEEDS[0], 0)]
protocol_after = units_of(result.rows, "joint", k_mid, "fr-test")[(SEEDS[0], 0)]
print(
    f"joint, as it is: {100 * token_accuracy(as_it_is, gold):.1f}% (the protocol's K=0: {100 * protocol_zero:.1f}%)"
)
print(
    f"joint, after {budget.steps} steps of lr={budget.lr} on draw 0 of K={k_mid}: "
    f"{100 * token_accuracy(after, gold):.1f}% (the protocol, same seed and draw: {100 * protocol_after:.1f}%)"
)
padding = int((gold == -100).sum())
print(
    f"{padding} of the {gold.numel()} positions are padding; counted as wrong they would make the adapted accuracy "
    f"{100 * float((after == gold).double().mean()):.1f}%."
)

# %% [markdown]
# ## 6 · Negative transfer: does a distant language help or hurt?
#
# Same method (MAML), same steps, three training sets: en only (distant: own lexicon, other word order), es only
# (close: French borrows its words and shares its order) and both. If adding en to es *lowers* French accuracy, en
# transferred negatively: its episodes pulled $\theta_0$ towards something French does not need. Each training set
# has its own vocabulary, so each is evaluated by its own protocol run on the same French draws, and the results
# are merged for paired comparison with "en+es".
#
# **Predict, then run.** Will MAML trained on es alone tag French better or worse than MAML trained on en + es? And
# en alone?

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
# The committed full run (3 seeds x 5 draws) beside this one: its verdicts are the ones to read from a quick run.
reference_path = reference_dir() / "02_toy_languages-full.json"
if PROFILE != "full" and reference_path.exists():
    committed = ProtocolResult.read(reference_path)
    print(reference_report(reference_path, committed.summary[0]["test_set"], result))
    committed_negative = committed.subset(["en only", "es only", "en+es"], baseline="en+es")
    print("\n[committed full run] " + negative_transfer_verdict(committed_negative, 5, close="es only", label="en"))

# %% [markdown]
# ## 7 · Results file and the explorer
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

# %% [markdown]
# ## 7 · Your own experiments (open-ended)
#
# Two exercises with no single right answer. Each hands you `measure`, which trains MAML on the toy with what you
# give it, adapts it to French from K sentences with the budget the protocol chose for MAML, and returns the French
# **holdout** accuracy (never a test set: you are choosing). Every call trains a model (seconds at `quick`), so keep
# your design small. The check accepts any sound finding: numbers `measure` returned, a design that can answer the
# question, and a conclusion your own numbers support. It cannot read your explanation: the rubric is for that.
#
# ### Exercise 5 · Tune MAML's inner loop
#
# Choose inner step counts and inner learning rates (at least two of each, crossed), measure every cell, pick the
# best and say whether more inner steps helped at that rate. Return `{"grid": {(inner_steps, inner_lr): accuracy},
# "best": (inner_steps, inner_lr), "more_steps_help": True or False}`.
#
# *Rubric.* A good answer also explains the curve in a few sentences: why too large an inner rate hurts (the step
# overshoots the support loss, and the outer loop must find an initialisation that survives it), what more steps
# cost (a backward pass each, in every meta-step) and why they may not pay when one step already fits K sentences,
# and how much of a difference is noise (one seed, one draw: rerun the best two cells with another `SEED`).

# %% tags=["exercise", "open"]
def tune_inner_loop(measure):
    """{"grid": {(inner_steps, inner_lr): accuracy}, "best": (inner_steps, inner_lr), "more_steps_help": bool}."""
    # BEGIN SOLUTION (exercise 02.5)
    grid = {(steps, lr): measure(steps, lr) for steps in (1, 2) for lr in (0.1, 0.3)}
    best = max(grid, key=grid.get)
    return {"grid": grid, "best": best, "more_steps_help": grid[(2, best[1])] > grid[(1, best[1])]}
    # END SOLUTION


# %%
from xlmeta_lab.teaching.exercises.measures import inner_loop_measure, sources_measure

open_budget, k_open = result.budgets["maml"], (5 if 5 in PROTOCOL.ks else max(PROTOCOL.ks))
print(f"measure: MAML on the toy, adapted to French from K={k_open} with lr={open_budget.lr}, {open_budget.steps} steps")
tuned = check("02.5", tune_inner_loop, inner_loop_measure(setup, k=k_open, lr=open_budget.lr, steps=open_budget.steps))

# %% [markdown]
# ### Exercise 6 · Design a negative-transfer experiment
#
# Section 6 asked whether a language the toy already has hurts. Design your own test: pick a baseline set of source
# languages and compare it with the same set plus one more (make one with `make_toy_languages(n, seed=...,
# languages=("xx",))`: an unknown name gets its own lexicon and word order), and any other sets you like.
# `measure({name: sentences, ...})` trains MAML on them. Return `{"sets": {label: {name: sentences}}, "accuracy":
# {label: accuracy}, "baseline": label, "hurts": [labels below the baseline]}`.
#
# *Rubric.* Change one thing at a time (the baseline plus one language), say why the added language might hurt
# (its words take embedding rows and gradient steps away from the forms French shares with Spanish; another word
# order pulls the context layers elsewhere) and what would convince you it does (the same gap on other seeds and
# draws: one point on one seed is not negative transfer).

# %% tags=["exercise", "open"]
def negative_transfer_experiment(measure, languages):
    """{"sets", "accuracy", "baseline", "hurts"}: MAML's French accuracy from each training set you design."""
    # BEGIN SOLUTION (exercise 02.6)
    from xlmeta_lab.data.toy import make_toy_languages

    size = len(languages["es"])
    unrelated = make_toy_languages(size, seed=1234, languages=("xx",))["xx"]  # its own lexicon and word order
    sets = {
        "es": {"es": languages["es"]},
        "es + unrelated": {"es": languages["es"], "xx": unrelated},
        "en + es": {"en": languages["en"], "es": languages["es"]},
    }
    accuracy = {name: measure(training) for name, training in sets.items()}
    hurts = sorted(name for name in sets if name != "es" and accuracy[name] < accuracy["es"])
    return {"sets": sets, "accuracy": accuracy, "baseline": "es", "hurts": hurts}
    # END SOLUTION


# %%
designed = check(
    "02.6",
    negative_transfer_experiment,
    sources_measure(setup, k=k_open, lr=open_budget.lr, steps=open_budget.steps),
    setup.training,
)

# %% [markdown]
# ## What to take away
#
# * An **episode** is one language's support set and a *disjoint* query set; holding the query out is what makes
#   the meta-objective reward adaptation that generalises rather than memorises. Seed it with a generator of its
#   own, and refuse a K the pool cannot give.
# * `relatedness` is a property of the generator; what a model can reuse is the overlap between the new language's
#   word forms and the *training sample* (exercise 1), and the characters of forms that differ a little.
# * Accuracy counts real words: padding is neither right nor wrong. Fine-tuning at test time is the inner loop run
#   longer, from a copy of the initialisation, so every condition and draw starts from the same weights.
# * Compare initialisations on the same support draws, with budgets chosen on a French holdout, through **paired**
#   differences and their 95% intervals. With one seed and two draws (`quick`) there is no interval and no claim:
#   the sentences above say which effects this run shows and which it cannot.
# * Whether meta-learning beats joint training, whether ANIL keeps up, whether a distant language hurts: each is
#   a measurement, and it can change with relatedness and K. The explorer lets you move both.
#
# Next, notebook 03 runs the same protocol on real Universal Dependencies treebanks: English and Spanish train
# the initialisation, French is adapted from K sentences.

# %%
# Your progress: a check that has not run, or has failed, counts as not done (hint("02.1") and so on for help).
done, total = exercises_done("02")
