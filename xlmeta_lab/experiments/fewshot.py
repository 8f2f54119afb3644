"""Bring your own language: adapt a saved initialisation to any UD treebank from K sentences.

``xlmeta fewshot`` runs the workbook's protocol on files you name: the support file is split once into a
pool (support sets are drawn from it) and a holdout (the fine-tuning step size and number of steps are
chosen on it); the test file is only scored. The result is token accuracy over real words, with a 95%
interval over the draws, next to the initialisation without any fine-tuning (K = 0).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from xlmeta_lab.data.roles import FewShotSplits
from xlmeta_lab.data.splits import seeded_split
from xlmeta_lab.data.ud import read_conllu
from xlmeta_lab.experiments.checkpoints import Checkpoint, load_checkpoint
from xlmeta_lab.experiments.config import ProtocolConfig
from xlmeta_lab.experiments.methods import METHODS
from xlmeta_lab.experiments.protocol import Condition, ProtocolResult, run_protocol, write_protocol_results
from xlmeta_lab.experiments.stats import MIN_UNITS_FOR_INTERVAL


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
    init: str | os.PathLike,
    support: str | os.PathLike,
    test: str | os.PathLike,
    *,
    shots: int,
    draws: int = 5,
    holdout_fraction: float = 0.2,
    lrs: tuple[float, ...] = (0.03, 0.1, 0.3),
    steps: tuple[int, ...] = (10, 25, 50),
    seed: int = 0,
) -> FewShotReport:
    """Run the few-shot protocol for the checkpoint ``init`` on the treebanks ``support`` and ``test``."""
    if shots < 1 or draws < 1:
        raise ValueError(f"--shots and --draws must be >= 1, got shots={shots}, draws={draws}")
    if not 0 < holdout_fraction < 1:
        raise ValueError(f"--holdout must be between 0 and 1, got {holdout_fraction}")
    checkpoint = load_checkpoint(init)
    if checkpoint.train_config.task != "tagging":
        raise ValueError(
            f"{init} holds a {checkpoint.train_config.task} classifier; xlmeta fewshot adapts taggers to UD "
            "treebanks (for SIB-200 use xlmeta evaluate --task sib200)"
        )
    support_sentences = read_conllu(support, lang="target")
    test_sentences = read_conllu(test, lang="target")
    n_holdout = max(1, round(holdout_fraction * len(support_sentences)))
    holdout, pool = seeded_split(support_sentences, [n_holdout], f"{seed}:fewshot-holdout", keep_order=False)
    if shots > len(pool):
        raise ValueError(
            f"K={shots} is larger than the support pool: {support} has {len(support_sentences)} sentences, "
            f"{n_holdout} of them held out to choose the fine-tuning budget, leaving {len(pool)}"
        )
    if shots == len(pool) and draws > 1:
        raise ValueError(
            f"K={shots} is the whole support pool ({len(pool)} sentences), so all {draws} draws would be the same "
            "set and an interval over them would be meaningless; use --draws 1, a smaller K, or a larger file"
        )
    test_name = Path(test).name.removesuffix(".conllu")
    splits = FewShotSplits(pool, holdout, {test_name: test_sentences})
    method = checkpoint.method
    condition = Condition(
        method, [checkpoint.build_model()], [checkpoint.train_config.seed], METHODS[method].adapt
    )
    protocol = ProtocolConfig(
        ks=(0, shots),
        n_draws=draws,
        lrs=lrs,
        steps=steps,
        draw_seed=seed,
        baseline=None,
        max_word_len=checkpoint.train_config.max_word_len,
    )
    result = run_protocol([condition], splits, checkpoint.backbone.encoder, protocol)
    return FewShotReport(checkpoint, Path(init), test_name, shots, result)
