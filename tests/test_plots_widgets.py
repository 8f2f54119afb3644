"""Plots draw what the results hold; the explorer widget builds and runs without a kernel; the CLI commands."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from xlmeta_lab.cli.experiments import add_experiment_commands  # noqa: E402
from xlmeta_lab.teaching.plots.protocol import (  # noqa: E402
    plot_accuracy_vs_k,
    plot_learning_curves,
    plot_paired_differences,
)

SUMMARY = [
    {"condition": c, "K": k, "test_set": "t", "mean": m, "ci_low": m - 0.02, "ci_high": m + 0.02, "n": 4,
     "baseline": "joint", "diff": d, "diff_low": d - 0.01, "diff_high": d + 0.01}
    for c, base, d in (("joint", 0.6, math.nan), ("maml", 0.62, 0.02))
    for k, m in ((0, base), (5, base + 0.2))
]  # fmt: skip


def test_accuracy_plot_has_one_line_and_band_per_condition() -> None:
    ax = plot_accuracy_vs_k(SUMMARY)
    assert [line.get_label() for line in ax.get_lines()] == ["joint", "maml"]
    assert list(ax.get_lines()[1].get_ydata()) == pytest.approx([62.0, 82.0])
    assert len(ax.collections) == 2  # the CI bands
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "5"]
    ax = plot_paired_differences(SUMMARY)
    assert [p.get_height() for p in ax.patches] == pytest.approx([2.0, 2.0])
    history = [{"step": s, "loss": 1.0 / s} for s in range(1, 11)]
    history[-1].update(val_acc_adapted=0.9)
    loss_ax, val_ax = plot_learning_curves({"maml": [history]})
    assert len(loss_ax.get_lines()) == 1 and list(val_ax.get_lines()[0].get_ydata()) == [90.0]
    plt.close("all")


def test_explorer_builds_and_runs_without_a_kernel() -> None:
    from xlmeta_lab.teaching.widgets import ToyExplorer

    explorer = ToyExplorer(seed=0)
    explorer.settings.update(
        sentences=80, fr_sentences=120, fr_holdout=10, fr_test=40, steps=4, finetune_steps=[3]
    )
    explorer.relatedness.value, explorer.k.value, explorer.method.value = 1.0, 3, "fomaml"
    record = explorer.run()
    assert {"scratch", "joint", "fomaml"} <= record.keys() and record["K"] == 3
    # the sliders' run, done again without the widget: the same numbers under the same names
    from xlmeta_lab.experiments.protocol.run import run_protocol
    from xlmeta_lab.experiments.studies.conditions import train_conditions
    from xlmeta_lab.experiments.studies.toy import toy_setup

    setup = toy_setup({**explorer.settings, "ks": [3], "inner_steps": 1}, 0, relatedness=1.0)
    trained = train_conditions(setup.training, setup.train_config, ["joint", "fomaml"], setup.seeds)
    again = run_protocol(trained.conditions, setup.splits, trained.encoder, setup.protocol)
    assert {n: record[n] for n in ("scratch", "joint", "fomaml")} == {
        n: again.get(n, 3)["mean"] for n in ("scratch", "joint", "fomaml")
    }
    assert len({record["scratch"], record["joint"], record["fomaml"]}) == 3  # so a swapped label would show
    assert explorer.history == [record] and not explorer.button.disabled
    assert "fomaml" in explorer.status.value
    plt.close("all")


def test_explorer_shows_a_first_run_as_an_ordinary_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    """An executed notebook keeps figures, not what a widget drew: show() must leave a figure in the cell."""
    from xlmeta_lab.teaching import widgets

    shown: list[object] = []
    monkeypatch.setattr(widgets, "display", shown.append)
    explorer = widgets.ToyExplorer(seed=0)
    explorer.settings.update(
        sentences=80, fr_sentences=120, fr_holdout=10, fr_test=40, steps=4, finetune_steps=[3]
    )
    record = explorer.show()
    kinds = [type(item).__name__ for item in shown]
    assert "Figure" in kinds and kinds[-1] == "HBox", kinds  # the figure of the first run, then the controls
    assert explorer.history == [record]
    plt.close("all")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xlmeta")
    add_experiment_commands(parser.add_subparsers(dest="command"))
    return parser


def test_cli_train_resume_and_evaluate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from xlmeta_lab.teaching import profiles

    tiny = dict(profiles.PROFILES["02_toy_languages"]["quick"])
    tiny.update(sentences=80, fr_sentences=120, fr_holdout=10, fr_test=40, steps=4, eval_every=2, hidden=16)
    tiny.update(ks=[0, 2], finetune_lrs=[0.3], finetune_steps=[3])
    monkeypatch.setitem(profiles.PROFILES["02_toy_languages"], "quick", tiny)
    parser = _parser()
    args = parser.parse_args(["train", "--task", "toy", "--method", "fomaml", "--out", str(tmp_path / "run")])
    assert args.func(args) == 0
    args = parser.parse_args(["train", "--method", "fomaml", "--out", str(tmp_path / "run"), "--resume"])
    assert args.func(args) == 0  # already finished: resumes at the end and reports
    assert "fomaml: 4 steps" in capsys.readouterr().out
    out = tmp_path / "res" / "toy-fomaml.json"
    args = parser.parse_args(
        ["evaluate", "--init", str(tmp_path / "run"), "--task", "toy", "--json", str(out)]
    )
    assert args.func(args) == 0
    payload = json.loads(out.read_text())
    assert {r["condition"] for r in payload["summary"]} == {"scratch", "fomaml"}
    assert (tmp_path / "res" / "toy-fomaml.summary.csv").exists()
    args = parser.parse_args(
        ["train", "--task", "sib200", "--method", "maml", "--out", str(tmp_path / "sib"), "--languages", "fr"]
    )
    with pytest.raises(ValueError, match="target language"):  # main() turns it into one error line
        args.func(args)
    assert not (tmp_path / "sib").exists()
