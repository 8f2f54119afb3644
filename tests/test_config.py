"""Settings: one method registry, strict profiles, the one seeded split, the one device move."""

from __future__ import annotations

import pytest
import torch

from xlmeta_lab.data.splits import seeded_split
from xlmeta_lab.episodes.tensors import Labeled, TokenInputs
from xlmeta_lab.experiments.config import TrainConfig, train_config_from_settings
from xlmeta_lab.experiments.methods import META_METHODS, METHODS, get_method
from xlmeta_lab.experiments.studies.toy import TOY_KEYS
from xlmeta_lab.experiments.studies.udpos import UD_KEYS
from xlmeta_lab.meta import ALGORITHMS, Task
from xlmeta_lab.meta.params import tree_to
from xlmeta_lab.teaching.profiles import PROFILE_NAMES, PROFILES, profile_settings


def test_method_registry_maps_every_method_to_an_engine_rule() -> None:
    assert set(META_METHODS) == {"maml", "fomaml", "reptile", "anil", "protonet"}
    assert {METHODS[m].algorithm for m in META_METHODS} <= set(ALGORITHMS)
    assert METHODS["anil"].algorithm == "maml" and METHODS["anil"].adapt == "head"
    assert not METHODS["joint"].is_meta
    # a prototypical network: no inner step, every task from its prototypes, whatever the run's settings say
    protonet = TrainConfig(method="protonet", inner_steps=3, head="zero")
    assert (protonet.method_inner_steps, protonet.task_head) == (0, "prototype")
    assert TrainConfig(method="maml", inner_steps=3).method_inner_steps == 3
    assert TrainConfig().task_head == "zero"
    with pytest.raises(ValueError, match="head must be 'zero' or 'prototype'"):
        TrainConfig(head="prototypes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="choose one of maml, fomaml, reptile, anil, protonet, joint"):
        get_method("mamll")
    with pytest.raises(ValueError, match="unknown method"):
        TrainConfig(method="mamll")  # type: ignore[arg-type]


@pytest.mark.parametrize(("notebook", "keys"), [("02_toy_languages", TOY_KEYS), ("03_en_es_to_fr", UD_KEYS)])
@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_every_profile_key_is_read_by_someone(notebook: str, keys: frozenset, profile: str) -> None:
    config = train_config_from_settings(profile_settings(notebook, profile), 3, experiment_keys=keys)
    assert config.seed == config.data_seed == 3


def test_a_misspelt_profile_key_is_refused_with_a_suggestion() -> None:
    settings = {**profile_settings("02_toy_languages", "quick"), "inner_lrr": 0.5}
    with pytest.raises(ValueError, match=r"'inner_lrr' \(did you mean 'inner_lr'\?\)"):
        train_config_from_settings(settings, 0, experiment_keys=TOY_KEYS)


def test_every_notebook_offers_the_same_profiles() -> None:
    assert all(tuple(choices) == PROFILE_NAMES for choices in PROFILES.values())


def test_seeded_split_is_disjoint_complete_and_repeatable() -> None:
    items = list(range(50))
    first, second, rest = seeded_split(items, [5, 10], "0:role")
    assert sorted(first + second + rest) == items
    assert (len(first), len(second), len(rest)) == (5, 10, 35)
    assert first == sorted(first)  # keep_order: each part in the original order
    assert seeded_split(items, [5, 10], "0:role") == [first, second, rest]
    assert seeded_split(items, [5, 10], "1:role") != [first, second, rest]
    shuffled = seeded_split(items, [5, 10], "0:role", keep_order=False)
    assert [sorted(part) for part in shuffled] == [first, second, rest]
    with pytest.raises(ValueError, match="cannot cut"):
        seeded_split(items, [40, 20], 0)


def test_tree_to_keeps_named_tuples() -> None:
    data = Labeled(TokenInputs(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 3, 4)), torch.zeros(2, 3))
    moved = tree_to(Task(data, data), "cpu")
    assert isinstance(moved, Task) and isinstance(moved.query, Labeled)
    assert isinstance(moved.support.x, TokenInputs)
    assert moved.support.x.word_ids is data.x.word_ids  # already there: not copied
