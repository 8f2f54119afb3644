"""The Hugging Face path: encoding, the encoder tagger, its save/load, and the engine on HF models.

Nothing is fetched: a tiny BERT and a tiny WordPiece tokenizer are built here, saved to a temporary
folder and loaded back through the same ``from_pretrained`` calls a learner uses with a real model.
Meta-gradients are compared with a hand-written loop (``torch.autograd.grad(create_graph=True)``),
independent of the engine, in float64 and in eval mode (no dropout), so agreement means equality.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from tiny_encoder import tiny_bert_config, wordpiece_tokenizer
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn import functional as F
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertForTokenClassification,
    BertModel,
    PreTrainedTokenizerFast,
)

from xlmeta_lab.data.ud import UPOS_TAGS, Sentence
from xlmeta_lab.episodes.encoders import TAG_TO_ID
from xlmeta_lab.episodes.samplers import TaggingEpisodeSampler
from xlmeta_lab.episodes.subwords import EncoderEpisodeSampler, SubwordEncoder, encode_for_encoder
from xlmeta_lab.episodes.tensors import IGNORE_INDEX
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.meta import meta_gradient, meta_gradient_and_loss
from xlmeta_lab.models.encoder import EncoderTagger
from xlmeta_lab.models.tagger import tagging_loss

RAW = {
    "en": [
        ("the cat sleeps .", "DET NOUN VERB PUNCT"),
        ("the dogs run fast .", "DET NOUN VERB ADV PUNCT"),
        ("a cat eats fish", "DET NOUN VERB NOUN"),
        ("dogs sleep .", "NOUN VERB PUNCT"),
        ("the fish swims", "DET NOUN VERB"),
        ("a dog eats .", "DET NOUN VERB PUNCT"),
    ],
    "fr": [
        ("le chat dort .", "DET NOUN VERB PUNCT"),
        ("les chats mangent du poisson", "DET NOUN VERB DET NOUN"),
        ("un chien court vite .", "DET NOUN VERB ADV PUNCT"),
        ("les chiens dorment .", "DET NOUN VERB PUNCT"),
        ("le poisson nage", "DET NOUN VERB"),
        ("un chat mange .", "DET NOUN VERB PUNCT"),
    ],
}
SENTENCES = [
    Sentence(tuple(text.split()), tuple(tags.split()), f"{lang}-{i}", lang, "test")
    for lang, rows in RAW.items()
    for i, (text, tags) in enumerate(rows)
]
# Inflected forms are left out of the vocabulary, so WordPiece splits each into a stem and a suffix:
# words of several sub-tokens, whose labels must land on the first.
SPLIT = {
    "chats": ("chat", "##s"),
    "chiens": ("chien", "##s"),
    "dogs": ("dog", "##s"),
    "mangent": ("mange", "##nt"),
    "dorment": ("dorme", "##nt"),
}
MAX_SUBTOKENS, MAX_WORDS, INNER_LR = 12, 6, 0.5


def build_tokenizer() -> PreTrainedTokenizerFast:
    """WordPiece over the test sentences, inflected forms left out so they split into stem + suffix."""
    forms = {form for s in SENTENCES for form in s.forms} - set(SPLIT)
    pieces = {piece for split in SPLIT.values() for piece in split}
    return wordpiece_tokenizer(forms | pieces)


def bert_config(vocab_size: int) -> BertConfig:
    return tiny_bert_config(vocab_size, MAX_SUBTOKENS)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A tiny BERT and its tokenizer saved to disk, then loaded back the way a learner loads a real one."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    build_tokenizer().save_pretrained(folder)
    torch.manual_seed(0)
    BertModel(bert_config(len(build_tokenizer()))).save_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    for word, pieces in SPLIT.items():  # the vocabulary really was loaded, and splits as intended
        assert tokenizer.tokenize(word) == list(pieces)
    return SimpleNamespace(folder=folder, tokenizer=tokenizer)


def load_tagger(saved: SimpleNamespace, **kwargs) -> EncoderTagger:
    """A tagger on the saved encoder in float64 and eval mode (dropout off): comparisons are exact."""
    torch.manual_seed(1)
    return EncoderTagger.from_pretrained(saved.folder, **kwargs).double().eval()


def sampled_tasks(saved: SimpleNamespace, n: int = 3, seed: int = 0) -> list:
    sampler = EncoderEpisodeSampler(
        SENTENCES, saved.tokenizer, 2, 2, max_words=MAX_WORDS, max_subtokens=MAX_SUBTOKENS, seed=seed
    )
    return sampler.sample_tasks(n)


def textbook_meta_gradient(
    model: nn.Module,
    loss_fn: Callable,
    tasks: list,
    *,
    second_order: bool,
    adapt: Callable[[str], bool] = lambda name: True,
) -> dict[str, Tensor]:
    """One inner SGD step per task on the ``adapt`` parameters, then the mean query loss's gradient.

    Written from the MAML paper, sharing no code with the engine: ``create_graph=second_order`` is the
    whole difference between MAML and first-order MAML.
    """
    theta = dict(model.named_parameters())
    inner = [name for name in theta if adapt(name)]
    total = {name: torch.zeros_like(p) for name, p in theta.items()}
    for (x_support, y_support), (x_query, y_query) in tasks:
        support_loss = loss_fn(functional_call(model, theta, tuple(x_support)), y_support)
        grads = torch.autograd.grad(
            support_loss, [theta[n] for n in inner], create_graph=second_order, allow_unused=True
        )
        fast = dict(theta)
        for name, g in zip(inner, grads):
            if g is not None:
                fast[name] = theta[name] - INNER_LR * g
        query_loss = loss_fn(functional_call(model, fast, tuple(x_query)), y_query) / len(tasks)
        for name, g in zip(theta, torch.autograd.grad(query_loss, list(theta.values()), allow_unused=True)):
            if g is not None:
                total[name] += g
    return total


def max_diff(a: dict[str, Tensor], b: dict[str, Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def largest(grads: dict[str, Tensor], prefix: str = "") -> float:
    return max(g.abs().max().item() for k, g in grads.items() if k.startswith(prefix))


# --- Encoding: labels on each word's first sub-token ------------------------------------------


def test_labels_sit_on_the_first_sub_token_of_each_word(saved: SimpleNamespace) -> None:
    sentence = next(s for s in SENTENCES if s.forms[1] == "chats")  # les chats mangent du poisson
    (input_ids, mask, starts), tags = encode_for_encoder(
        [sentence], saved.tokenizer, MAX_SUBTOKENS, MAX_WORDS
    )
    pieces = saved.tokenizer.convert_ids_to_tokens(input_ids[0, : int(mask[0].sum())].tolist())
    assert pieces == ["[CLS]", "les", "chat", "##s", "mange", "##nt", "du", "poisson", "[SEP]"]
    assert starts[0].tolist() == [1, 2, 4, 6, 7, 0]  # "chats" starts at 2, "mangent" at 4; padding -> 0
    assert tags[0].tolist() == [TAG_TO_ID[t] for t in sentence.tags] + [IGNORE_INDEX]
    assert input_ids.shape == mask.shape == (1, MAX_SUBTOKENS) and starts.shape == tags.shape == (
        1,
        MAX_WORDS,
    )

    tagger = load_tagger(saved)
    with torch.no_grad():
        logits = tagger(input_ids, mask, starts)
        hidden = tagger.encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
    assert logits.shape == (1, MAX_WORDS, len(UPOS_TAGS))
    assert torch.allclose(logits[0], tagger.head(hidden[0, [1, 2, 4, 6, 7, 0]]), atol=1e-12)


def test_words_past_either_budget_are_ignored_not_mislabelled(saved: SimpleNamespace) -> None:
    sentence = next(s for s in SENTENCES if s.forms[1] == "chats")
    # 5 pieces: [CLS] les chat ##s [SEP]; "chats" keeps its tag, "mangent" has lost its first piece
    (_, mask, starts), tags = encode_for_encoder(
        [sentence], saved.tokenizer, max_subtokens=5, max_words=MAX_WORDS
    )
    assert int(mask.sum()) == 5
    assert starts[0].tolist() == [1, 2, 0, 0, 0, 0]
    assert tags[0].tolist() == [TAG_TO_ID["DET"], TAG_TO_ID["NOUN"]] + [IGNORE_INDEX] * 4
    # fewer word slots than words: the rest have no slot
    _, tags = encode_for_encoder([sentence], saved.tokenizer, MAX_SUBTOKENS, max_words=3)
    assert tags[0].tolist() == [TAG_TO_ID[t] for t in sentence.tags[:3]]


def test_unknown_characters_are_those_the_tokenizer_reads_as_its_unknown_piece() -> None:
    encoder = SubwordEncoder(wordpiece_tokenizer(["le", "chat", "l", "e", "c", "h", "a", "t"]), "tiny")
    assert encoder.unknown_chars(["l", "E", "é", "ж", "中"]) == {"ж", "中"}  # lower-cased, accents stripped


def test_sampler_is_seeded_disjoint_and_paired_with_the_word_sampler(saved: SimpleNamespace) -> None:
    def draws(seed: int) -> list:
        sampler = EncoderEpisodeSampler(SENTENCES, saved.tokenizer, 2, 3, max_words=MAX_WORDS, seed=seed)
        return [sampler.draw() for _ in range(5)]

    first, again = draws(7), draws(7)
    for a, b in zip(first, again):
        assert (a.lang, a.support, a.query) == (b.lang, b.support, b.query)
        assert all(torch.equal(u, v) for u, v in zip(a.task[0][0], b.task[0][0]))
    for episode in first:
        assert not set(episode.support) & set(episode.query)
        assert {s.lang for s in episode.support + episode.query} == {episode.lang}
    words = TaggingEpisodeSampler(SENTENCES, Vocab.build(SENTENCES), 2, 3, max_len=MAX_WORDS, seed=7)
    assert [(e.support, e.query) for e in first] == [
        (w.support, w.query) for w in (words.draw() for _ in range(5))
    ]


# --- The engine on a Hugging Face model built from a config (default attention: sdpa) ----------


def token_classifier(saved: SimpleNamespace) -> BertForTokenClassification:
    torch.manual_seed(2)
    return BertForTokenClassification(bert_config(len(saved.tokenizer))).double().eval()


def hf_loss(output, tags: Tensor) -> Tensor:
    return tagging_loss(output.logits, tags)


def classifier_tasks(saved: SimpleNamespace) -> list:
    """The sampler's tasks without ``word_starts``: BertForTokenClassification tags every sub-token."""
    tasks = []
    for support, query in sampled_tasks(saved, n=2):
        pair = []
        for (input_ids, mask, starts), tags in (support, query):
            # each word's tag on its first piece; padding words write -100 onto [CLS]
            per_piece = torch.full_like(input_ids, IGNORE_INDEX).scatter(1, starts, tags)
            pair.append(((input_ids, mask), per_piece))
        tasks.append(tuple(pair))
    return tasks


def test_second_order_switches_to_eager_and_matches_the_textbook_loop(saved: SimpleNamespace) -> None:
    model, tasks = token_classifier(saved), classifier_tasks(saved)
    assert model.config._attn_implementation == "sdpa"
    reference = copy.deepcopy(model)
    reference.set_attn_implementation("eager")
    with pytest.warns(UserWarning, match="'sdpa' to 'eager'"):
        grads = meta_gradient(model, hf_loss, tasks, method="maml", inner_lr=INNER_LR, batched=False)
    assert model.config._attn_implementation == "eager"
    expected = textbook_meta_gradient(reference, hf_loss, tasks, second_order=True)
    assert max_diff(grads, expected) < 1e-10
    assert largest(grads) > 1e-4


def test_first_order_keeps_the_fused_kernel(saved: SimpleNamespace) -> None:
    model, tasks = token_classifier(saved), classifier_tasks(saved)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no switch, no warning
        grads = meta_gradient(model, hf_loss, tasks, method="fomaml", inner_lr=INNER_LR, batched=False)
    assert model.config._attn_implementation == "sdpa"
    assert max_diff(grads, textbook_meta_gradient(model, hf_loss, tasks, second_order=False)) < 1e-10


class ConfigOnlySaysSdpa(nn.Module):
    """Looks like an HF model that uses sdpa, but offers no way to switch it."""

    def __init__(self) -> None:
        super().__init__()
        self.config = SimpleNamespace(_attn_implementation="sdpa")
        self.linear = nn.Linear(4, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).squeeze(-1)


class DirectSdpa(nn.Module):
    """Self-attention through ``F.scaled_dot_product_attention`` itself: nothing the engine can switch."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(4, 12)

    def forward(self, x: Tensor) -> Tensor:
        # [batch, heads=1, length, dim]: PyTorch picks its fused CPU kernel for 4-D inputs only
        q, k, v = (t.unsqueeze(1) for t in self.qkv(x).chunk(3, dim=-1))
        return F.scaled_dot_product_attention(q, k, v).squeeze(1).sum(-1)


@pytest.mark.parametrize("make", [ConfigOnlySaysSdpa, DirectSdpa], ids=["no-setter", "direct-call"])
def test_impossible_switch_says_what_to_do(make: Callable[[], nn.Module]) -> None:
    model, x = make(), torch.randn(2, 3, 4)
    task = ((x, torch.zeros(2, 3)), (x, torch.zeros(2, 3)))
    with pytest.raises(RuntimeError, match="attn_implementation='eager'") as error:
        meta_gradient(model, F.mse_loss, [task], method="maml", inner_lr=0.1)
    assert "fomaml" in str(error.value)
    meta_gradient(model, F.mse_loss, [task], method="fomaml", inner_lr=0.1)  # and the advice works


# --- EncoderTagger through the engine ---------------------------------------------------------


@pytest.mark.parametrize("method", ["maml", "fomaml"])
def test_encoder_tagger_meta_gradient_matches_the_textbook_loop(saved: SimpleNamespace, method: str) -> None:
    tagger, tasks = load_tagger(saved), sampled_tasks(saved)
    assert tagger.encoder.config._attn_implementation == "eager"  # the default: MAML-ready
    grads = meta_gradient(tagger, tagging_loss, tasks, method=method, inner_lr=INNER_LR, batched=False)
    expected = textbook_meta_gradient(tagger, tagging_loss, tasks, second_order=method == "maml")
    assert max_diff(grads, expected) < 1e-10
    assert largest(grads, "encoder.") > 1e-6 and largest(grads, "head.") > 1e-4


def test_anil_adapts_only_the_head(saved: SimpleNamespace) -> None:
    tagger, tasks = load_tagger(saved), sampled_tasks(saved)
    grads = meta_gradient(
        tagger, tagging_loss, tasks, method="maml", inner_lr=INNER_LR, adapt="head", batched=False
    )
    assert (
        max_diff(
            grads,
            textbook_meta_gradient(
                tagger, tagging_loss, tasks, second_order=True, adapt=lambda name: name.startswith("head.")
            ),
        )
        < 1e-10
    )
    # and it is a different objective from full MAML, so the check above is not vacuous
    full = meta_gradient(tagger, tagging_loss, tasks, method="maml", inner_lr=INNER_LR, batched=False)
    assert max_diff(grads, full) > 1e-6


def test_auto_falls_back_to_the_loop_when_vmap_fails(saved: SimpleNamespace) -> None:
    # BERT builds its attention mask with data-dependent control flow, which vmap refuses. First-order,
    # so nothing else (fused LayerNorm under second order) keeps the engine from trying vmap first.
    tagger, tasks = load_tagger(saved), sampled_tasks(saved)
    kwargs = dict(method="fomaml", inner_lr=INNER_LR)
    with pytest.warns(UserWarning, match="using the per-task loop"):
        auto = meta_gradient_and_loss(tagger, tagging_loss, tasks, batched="auto", **kwargs)
    loop = meta_gradient_and_loss(tagger, tagging_loss, tasks, batched=False, **kwargs)
    assert max_diff(auto.grads, loop.grads) < 1e-12
    assert torch.allclose(auto.query_loss, loop.query_loss)
    assert not auto.batched, "the result must say it came from the loop"


# --- Save and load ----------------------------------------------------------------------------


def test_save_and_load_round_trip(saved: SimpleNamespace, tmp_path: Path) -> None:
    tags = ("NOUN", "VERB", "OTHER")
    tagger = load_tagger(saved, tag_names=tags, dropout=0.2)
    with torch.no_grad():  # a trained head, not the seeded initial one, must come back
        tagger.head.weight.add_(1.0)
    tagger.save_pretrained(tmp_path, tokenizer=saved.tokenizer)

    reloaded = EncoderTagger.from_pretrained(tmp_path, n_tags=3).double().eval()
    assert reloaded.tag_names == tags and reloaded.dropout.p == 0.2
    assert reloaded.encoder.config._attn_implementation == "eager"
    x, _ = encode_for_encoder(
        SENTENCES[:4], AutoTokenizer.from_pretrained(tmp_path), MAX_SUBTOKENS, MAX_WORDS
    )
    with torch.no_grad():
        assert torch.equal(tagger(*x), reloaded(*x))
    with pytest.raises(ValueError, match="n_tags=17"):
        EncoderTagger.from_pretrained(tmp_path, n_tags=17)
