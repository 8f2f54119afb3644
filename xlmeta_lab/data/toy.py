"""A seeded family of synthetic languages that share one latent grammar.

Why: meta-learning claims ("what transfers between related languages?") are easier to see when
we control relatedness. Every toy language realises the same word classes (UPOS tags) and the
same phrase template; languages differ in their lexicon (each has its own syllable inventory),
in word order (ADJ-NOUN vs NOUN-ADJ, SVO vs SOV), and a language with a ``sister`` borrows a
share ``relatedness`` of its word forms from it, some with a small spelling change.

Some forms serve two classes (a verb spelled like a noun, a determiner like a pronoun), so a
tagger needs context, not a lookup table. Output uses :class:`~xlmeta_lab.data.ud.Sentence`, so
toy and real data go through the same episode code.

Defaults give ``en``, ``es``, ``fr``: es and fr share word order and fr borrows from es; en has
its own lexicon and ADJ-NOUN order, so it is the distant one.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from xlmeta_lab.data.ud import Sentence

TOY_TAGS: tuple[str, ...] = ("ADJ", "ADP", "ADV", "DET", "NOUN", "PRON", "PUNCT", "VERB")
CLOSED_CLASS_SIZES = {"DET": 4, "ADP": 6, "PRON": 5}
OPEN_CLASS_SHARES = {"NOUN": 0.4, "VERB": 0.25, "ADJ": 0.2, "ADV": 0.15}
PUNCT_FORMS = (".", "?")  # shared by every language, as in real scripts
_CONSONANTS = "bcdfghjklmnprstvwxz"
_VOWELS = "aeiouy"


@dataclass(frozen=True)
class LanguageSpec:
    """Word order and borrowing source of one toy language."""

    name: str
    adj_before_noun: bool = True
    verb_final: bool = False  # SOV instead of SVO
    sister: str | None = None  # borrows a share `relatedness` of its forms from this language


DEFAULT_LANGUAGES = (
    LanguageSpec("en", adj_before_noun=True),
    LanguageSpec("es", adj_before_noun=False),
    LanguageSpec("fr", adj_before_noun=False, sister="es"),
)


@dataclass(frozen=True)
class ToyConfig:
    """All knobs of the generator; ``dataclasses.replace`` makes variants.

    ``languages``: names or specs; an unknown name gets a word order drawn from the seed and no
    sister. ``relatedness``: share of concepts whose form a language borrows from its sister
    (a float, or per language). ``min_len``/``max_len``: sentence length in words (the target is
    drawn uniformly, modifiers are added until it is reached). ``vocab_size``: open-class
    concepts (nouns, verbs, adjectives, adverbs). ``ambiguity``: share of verbs spelled like a
    noun. ``zipf``: word frequency skew within a class.
    """

    languages: tuple[str | LanguageSpec, ...] = DEFAULT_LANGUAGES
    relatedness: float | Mapping[str, float] = 0.6
    seed: int = 0
    min_len: int = 4
    max_len: int = 14
    vocab_size: int = 200
    ambiguity: float = 0.1
    spelling_change: float = 0.3
    zipf: float = 1.0
    specs: dict[str, LanguageSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 2 <= self.min_len <= self.max_len:
            raise ValueError(f"need 2 <= min_len <= max_len, got {self.min_len}, {self.max_len}")
        defaults = {spec.name: spec for spec in DEFAULT_LANGUAGES}
        specs = {}
        for lang in self.languages:
            if isinstance(lang, str):
                rng = random.Random(f"{self.seed}:order:{lang}")
                lang = defaults.get(lang) or LanguageSpec(lang, rng.random() < 0.5, rng.random() < 0.3)
            specs[lang.name] = lang
        for spec in list(specs.values()):  # a sister not asked for is still needed to borrow from
            while spec.sister and spec.sister not in specs:
                spec = defaults.get(spec.sister) or LanguageSpec(spec.sister)
                specs[spec.name] = spec
        object.__setattr__(self, "specs", specs)

    def relatedness_of(self, lang: str) -> float:
        if isinstance(self.relatedness, Mapping):
            return float(self.relatedness.get(lang, 0.0))
        return float(self.relatedness)


def _class_sizes(vocab_size: int) -> dict[str, int]:
    sizes = {tag: max(2, round(vocab_size * share)) for tag, share in OPEN_CLASS_SHARES.items()}
    return {**CLOSED_CLASS_SIZES, **sizes}


class _Phonology:
    """A language's own syllable inventory, so unrelated lexicons look different."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.consonants = rng.sample(_CONSONANTS, 9)
        self.vowels = rng.sample(_VOWELS, 4)

    def syllable(self) -> str:
        r, c, v = self.rng.random(), self.rng.choice(self.consonants), self.rng.choice(self.vowels)
        if r < 0.6:
            return c + v
        if r < 0.85:
            return c + v + self.rng.choice(self.consonants)
        return v

    def word(self, n_syllables: int) -> str:
        return "".join(self.syllable() for _ in range(n_syllables))

    def respell(self, form: str) -> str:
        """A small spelling change: one vowel swapped for one of this language's vowels."""
        positions = [i for i, ch in enumerate(form) if ch in _VOWELS]
        if not positions:
            return form + self.rng.choice(self.vowels)
        i = self.rng.choice(positions)
        return (
            form[:i]
            + self.rng.choice([v for v in self.vowels if v != form[i]] or self.vowels)
            + form[i + 1 :]
        )


def build_lexicons(config: ToyConfig) -> dict[str, dict[str, tuple[str, ...]]]:
    """``lexicon[lang][tag][concept]`` -> form, the same concept index meaning the same word."""
    sizes = _class_sizes(config.vocab_size)
    grammar_rng = random.Random(f"{config.seed}:grammar")
    n_ambiguous = round(config.ambiguity * sizes["VERB"])
    ambiguous_verbs = grammar_rng.sample(range(sizes["VERB"]), n_ambiguous)
    lexicons: dict[str, dict[str, tuple[str, ...]]] = {}

    def build(name: str) -> dict[str, tuple[str, ...]]:
        if name in lexicons:
            return lexicons[name]
        spec = config.specs[name]
        sister = build(spec.sister) if spec.sister else None
        rng = random.Random(f"{config.seed}:lexicon:{name}")
        phonology = _Phonology(rng)
        share = config.relatedness_of(name) if sister else 0.0
        used: set[str] = set(PUNCT_FORMS)
        lexicon: dict[str, tuple[str, ...]] = {"PUNCT": PUNCT_FORMS}
        for tag, size in sizes.items():
            forms = []
            for concept in range(size):
                form = None
                if sister is not None and rng.random() < share:
                    form = sister[tag][concept]
                    if rng.random() < config.spelling_change:
                        form = phonology.respell(form)
                while form is None or form in used:
                    form = phonology.word(1 if tag in CLOSED_CLASS_SIZES else rng.choice((1, 2, 2, 3)))
                used.add(form)
                forms.append(form)
            lexicon[tag] = tuple(forms)
        # Shared ambiguity: the same verb concepts look like nouns in every language.
        verbs = list(lexicon["VERB"])
        for k, verb in enumerate(ambiguous_verbs):
            verbs[verb] = lexicon["NOUN"][k % sizes["NOUN"]]
        lexicon["VERB"] = tuple(verbs)
        lexicon["DET"] = (lexicon["PRON"][0], *lexicon["DET"][1:])  # like French "le", English "that"
        lexicons[name] = lexicon
        return lexicon

    for name in config.specs:
        build(name)
    return lexicons


class _Realiser:
    """Draws sentences of one language from the shared phrase template."""

    def __init__(self, spec: LanguageSpec, lexicon: dict[str, tuple[str, ...]], config: ToyConfig) -> None:
        self.spec, self.lexicon, self.config = spec, lexicon, config
        self.rng = random.Random(f"{config.seed}:sentences:{spec.name}")
        self.cum_weights = {
            tag: list(itertools.accumulate(1.0 / (rank + 1) ** config.zipf for rank in range(len(forms))))
            for tag, forms in lexicon.items()
        }

    def word(self, tag: str) -> tuple[str, str]:
        forms = self.lexicon[tag]
        index = self.rng.choices(range(len(forms)), cum_weights=self.cum_weights[tag])[0]
        return forms[index], tag

    def noun_phrase(self, n_adj: int) -> list[tuple[str, str]]:
        adjectives = [self.word("ADJ") for _ in range(n_adj)]
        noun = [self.word("NOUN")]
        body = adjectives + noun if self.spec.adj_before_noun else noun + adjectives
        return [self.word("DET"), *body]

    def sentence(self) -> list[tuple[str, str]]:
        rng, cfg = self.rng, self.config
        target = rng.randint(cfg.min_len, cfg.max_len)
        pronoun_subject, transitive = rng.random() < 0.3, rng.random() < 0.7
        adj = {"subj": 0, "obj": 0}
        n_pp, adverb = 0, False
        length = (1 if pronoun_subject else 2) + 1 + (2 if transitive else 0) + 1
        while length < target:
            options = [("pp", 3)]
            options += [] if pronoun_subject else [("subj", 1)]
            options += [("obj", 1)] if transitive else []
            options += [] if adverb else [("adv", 1)]
            options = [(name, cost) for name, cost in options if length + cost <= cfg.max_len]
            if not options:
                break
            name, cost = rng.choice(options)
            length += cost
            if name == "pp":
                n_pp += 1
            elif name == "adv":
                adverb = True
            else:
                adj[name] += 1
        subject = [self.word("PRON")] if pronoun_subject else self.noun_phrase(adj["subj"])
        verb = [self.word("VERB")]
        obj = self.noun_phrase(adj["obj"]) if transitive else []
        extras = [w for _ in range(n_pp) for w in [self.word("ADP"), *self.noun_phrase(0)]]
        extras += [self.word("ADV")] if adverb else []
        core = subject + obj + extras + verb if self.spec.verb_final else subject + verb + obj + extras
        punct = (PUNCT_FORMS[1], "PUNCT") if rng.random() < 0.1 else (PUNCT_FORMS[0], "PUNCT")
        return [*core, punct]


def make_toy_languages(
    n_sentences: int | Mapping[str, int] = 1000, config: ToyConfig | None = None, **knobs: object
) -> dict[str, list[Sentence]]:
    """Sentences for every language in ``config.languages`` (knobs override config fields).

    Deterministic given the config: each language draws from its own ``random.Random`` seeded
    by (seed, name), never from global state, so adding a language does not change the others.

    Example:
        >>> langs = make_toy_languages(100, seed=1, relatedness=0.8)
        >>> sorted(langs), len(langs["fr"])
        (['en', 'es', 'fr'], 100)
    """
    config = replace(config or ToyConfig(), **knobs)
    lexicons = build_lexicons(config)
    out: dict[str, list[Sentence]] = {}
    for lang in config.languages:
        name = lang if isinstance(lang, str) else lang.name
        realiser = _Realiser(config.specs[name], lexicons[name], config)
        count = n_sentences[name] if isinstance(n_sentences, Mapping) else n_sentences
        sentences = []
        for i in range(count):
            words = realiser.sentence()
            forms, tags = zip(*words, strict=True)
            sentences.append(Sentence(forms, tags, f"toy-{name}-{i:05d}", name, "toy"))
        out[name] = sentences
    return out


def form_overlap(
    a: Iterable[Sentence], b: Iterable[Sentence], exclude_tags: Sequence[str] = ("PUNCT",)
) -> float:
    """Share of the word types of *a* that also occur in *b* (punctuation left out by default).

    Works for toy and real data alike: it is what decides how many of a language's words an
    embedding trained on the other one already knows.
    """
    types_a = {f for s in a for f, t in zip(s.forms, s.tags, strict=True) if t not in exclude_tags}
    types_b = {f for s in b for f, t in zip(s.forms, s.tags, strict=True) if t not in exclude_tags}
    return len(types_a & types_b) / len(types_a) if types_a else 0.0
