"""Bring your own language: adapt a saved initialisation to any UD treebank from K sentences.

``xlmeta fewshot`` runs the workbook's protocol on files you name: the support file is split once into a
pool (support sets are drawn from it) and a holdout (the fine-tuning step size and number of steps are
chosen on it); the test file is only scored. The result is token accuracy over real words, with a 95%
interval over the draws, next to the initialisation without any fine-tuning (K = 0).

Files are checked before the model runs: a test file whose every sentence is in the support file is refused,
shared sentences and characters the model cannot read are warned about
(:func:`~xlmeta_lab.experiments.protocol.run.check_support_and_tests`), and a sentence longer than
:data:`~xlmeta_lab.episodes.encoders.MAX_SENTENCE_WORDS` is cut into parts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from xlmeta_lab.data.roles import FewShotSplits
from xlmeta_lab.data.splits import seeded_split
from xlmeta_lab.data.ud import Sentence, read_conllu
from xlmeta_lab.episodes.encoders import split_long_sentences
from xlmeta_lab.experiments.config import FewShotConfig, ProtocolConfig
from xlmeta_lab.experiments.methods import METHODS
from xlmeta_lab.experiments.protocol.results import ProtocolResult, write_protocol_results
from xlmeta_lab.experiments.protocol.run import Condition, check_support_and_tests, run_protocol
from xlmeta_lab.experiments.protocol.stats import MIN_UNITS_FOR_INTERVAL
from xlmeta_lab.experiments.training.checkpoints import Checkpoint, load_checkpoint


@dataclass
class FewShotReport:
    """The protocol's result for one checkpoint on one treebank, with what produced it."""

    checkpoint: Checkpoint
    init: Path
    test_name: str
    shots: int
    result: ProtocolResult

    def describe(self) -> str:
        method = self.checkpoint.method
        before = self.result.get(method, 0, self.test_name)
        after = self.result.get(method, self.shots, self.test_name)
        budget = self.result.budgets[method]
        half = 100 * (after["ci_high"] - after["mean"])
        spread = (
            f" ± {half:.1f} (95% CI, n={after['n']} draws)"
            if after["n"] >= MIN_UNITS_FOR_INTERVAL
            else f" ({after['n']} draw(s): no interval)"
        )
        return (
            f"{self.init} ({method}) on {self.test_name}: {100 * before['mean']:.1f}% with no fine-tuning, "
            f"{100 * after['mean']:.1f}%{spread} after fine-tuning on K={self.shots} sentences "
            f"(lr={budget.lr}, steps={budget.steps}, chosen on the support file's holdout)"
        )

    def write(self, json_path: str | os.PathLike) -> dict[str, Path]:
        json_path = Path(json_path)
        return write_protocol_results(
            self.result,
            json_path.name.removesuffix(".json"),
            config={
                "init": str(self.init),
                "shots": self.shots,
                "train": self.checkpoint.train_config.to_dict(),
            },
            seeds=[self.checkpoint.train_config.seed],
            out_dir=json_path.parent,
        )


def fewshot_from_files(
    init: str | os.PathLike, support: str | os.PathLike, test: str | os.PathLike, config: FewShotConfig
) -> FewShotReport:
    """Run the few-shot protocol for the checkpoint ``init`` on the treebanks ``support`` and ``test``."""
    checkpoint = load_checkpoint(init)
    if checkpoint.train_config.task != "tagging":
        raise ValueError(
            f"{init} holds a {checkpoint.train_config.task} classifier; xlmeta fewshot adapts taggers to UD "
            "treebanks (for SIB-200 use xlmeta evaluate --task sib200)"
        )
    holdout, pool = split_support_file(support, config)
    test_sentences = read_conllu(test, lang="target")
    test_name = Path(test).name.removesuffix(".conllu")
    check_support_and_tests([*holdout, *pool], {str(test): test_sentences}, checkpoint.backbone.encoder, str(support))
    test_sentences = split_long_sentences(test_sentences)
    if config.shots == len(pool) and config.draws > 1:
        raise ValueError(
            f"K={config.shots} is the whole support pool ({len(pool)} sentences), so all {config.draws} draws would "
            "be the same set and an interval over them would be meaningless; use --draws 1, a smaller K, or a "
            "larger file"
        )
    splits = FewShotSplits(pool, holdout, {test_name: test_sentences})
    protocol = fewshot_protocol(checkpoint, config)
    result = run_protocol([checkpoint_condition(checkpoint)], splits, checkpoint.backbone.encoder, protocol)
    return FewShotReport(checkpoint, Path(init), test_name, config.shots, result)


def split_support_file(
    support: str | os.PathLike, config: FewShotConfig
) -> tuple[list[Sentence], list[Sentence]]:
    """``(holdout, pool)`` of a support treebank: a seeded share set aside to choose the fine-tuning budget, and
    the pool K-sentence support sets are drawn from. Sentences over ``MAX_SENTENCE_WORDS`` are cut into parts
    first, so memory stays bounded. Refuses a K the pool cannot give."""
    sentences = split_long_sentences(read_conllu(support, lang="target"))
    n_holdout = max(1, round(config.holdout_fraction * len(sentences)))
    holdout, pool = seeded_split(sentences, [n_holdout], f"{config.seed}:fewshot-holdout", keep_order=False)
    if config.shots > len(pool):
        raise ValueError(
            f"K={config.shots} is larger than the support pool: {support} has {len(sentences)} sentences, "
            f"{n_holdout} of them held out to choose the fine-tuning budget, leaving {len(pool)}"
        )
    return holdout, pool


def checkpoint_condition(checkpoint: Checkpoint) -> Condition:
    """The checkpoint's tagger as the protocol's one condition, in evaluation mode (no dropout), as the
    notebooks' trained conditions are, and adapting what its method adapts (ANIL: the head)."""
    method = checkpoint.method
    model = checkpoint.build_model().eval()
    return Condition(method, [model], [checkpoint.train_config.seed], METHODS[method].adapt)


def fewshot_protocol(checkpoint: Checkpoint, config: FewShotConfig) -> ProtocolConfig:
    """The protocol of one file pair: no fine-tuning and K shots, ``config.draws`` support sets (which also
    choose the budget), the grid ``config.lrs`` x ``config.steps``, no baseline."""
    return ProtocolConfig(
        ks=(0, config.shots),
        n_draws=config.draws,
        lrs=config.lrs,
        steps=config.steps,
        draw_seed=config.seed,
        baseline=None,
        max_word_len=checkpoint.train_config.max_word_len,
    )
