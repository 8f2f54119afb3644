"""An interactive explorer for the toy languages: move relatedness, K and inner steps, pick a method, press Run.

Each click generates the toy languages at the chosen relatedness, trains a small meta-learned and a small
joint initialisation on en + es (seconds on a CPU), fine-tunes each on French support sets of K sentences
and plots the French test accuracy beside an untrained tagger's. The budget is the protocol's, on a
one-point grid (fixed lr and steps, so no choice is made and none is made on test data); the settings
are deliberately small, so read the explorer's numbers as a sketch and notebook 02's protocol as the result.

The widget is built from plain ``ipywidgets`` and needs no running kernel to construct: ``run()`` can be
called directly (that is how it is tested).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w
import matplotlib.pyplot as plt
from IPython.display import display

from xlmeta_lab.experiments.methods import META_METHODS
from xlmeta_lab.experiments.protocol.run import run_protocol
from xlmeta_lab.experiments.studies.conditions import train_conditions
from xlmeta_lab.experiments.studies.toy import toy_setup
from xlmeta_lab.teaching.plots.protocol import colour_of

#: Small settings: one click should take seconds on two CPU cores.
EXPLORER_SETTINGS: dict[str, Any] = {
    "sentences": 160,
    "fr_sentences": 260,
    "fr_holdout": 20,
    "fr_test": 120,
    "relatedness": 0.8,
    "steps": 25,
    "meta_batch": 4,
    "support_size": 5,
    "query_size": 6,
    "inner_lr": 0.1,
    "inner_steps": 1,
    "outer_lr": 0.005,
    "hidden": 32,
    "n_seeds": 1,
    "n_draws": 2,
    "ks": [5],
    "finetune_lrs": [0.3],
    "finetune_steps": [15],
    "eval_every": 25,
}


@dataclass
class ToyExplorer:
    """Sliders, a method selector, a Run button and a plot that is redrawn in place.

    ``explorer.widget`` is what a notebook displays; ``explorer.run()`` is the button's callback and
    returns the numbers it plotted; ``explorer.history`` keeps every click's settings and accuracies.
    """

    seed: int = 0
    settings: dict[str, Any] = field(default_factory=lambda: dict(EXPLORER_SETTINGS))
    history: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        style = {"description_width": "110px"}
        self.relatedness = w.FloatSlider(
            value=0.8, min=0.0, max=1.0, step=0.1, description="relatedness", style=style
        )
        self.k = w.IntSlider(value=5, min=1, max=20, description="K (fr shots)", style=style)
        self.inner_steps = w.IntSlider(value=1, min=1, max=3, description="inner steps", style=style)
        self.method = w.Dropdown(
            options=list(META_METHODS), value="fomaml", description="method", style=style
        )
        self.button = w.Button(description="Run", button_style="primary", icon="play")
        self.status = w.HTML("Press <b>Run</b>: trains small models for a few seconds.")
        self.output = w.Output()
        self.button.on_click(lambda _button: self.run())
        controls = w.VBox([self.relatedness, self.k, self.inner_steps, self.method, self.button, self.status])
        self.widget = w.HBox([controls, self.output])

    def show(self) -> dict[str, Any]:
        """Run once at the default settings, draw that run as an ordinary figure, then display the controls.

        A notebook saved after execution (papermill, CI, a static render on GitHub) keeps ordinary figures but
        not what a widget drew, so without this first figure a reader would see bare sliders.
        """
        record = self.run()
        self._draw(record, into_widget=False)
        display(self.widget)
        return record

    def run(self) -> dict[str, Any]:
        """Train, fine-tune and evaluate with the current slider values, then redraw the plot."""
        self.button.disabled = True
        self.status.value = "running..."
        try:
            settings = {**self.settings, "ks": [self.k.value], "inner_steps": self.inner_steps.value}
            setup = toy_setup(settings, self.seed, relatedness=self.relatedness.value)
            trained = train_conditions(
                setup.training, setup.train_config, ["joint", self.method.value], setup.seeds
            )
            result = run_protocol(trained.conditions, setup.splits, trained.encoder, setup.protocol)
            record = {
                "relatedness": self.relatedness.value,
                "K": self.k.value,
                "inner_steps": self.inner_steps.value,
                "method": self.method.value,
                **{c.name: result.get(c.name, self.k.value)["mean"] for c in trained.conditions},
            }
            self.history.append(record)
            self._draw(record)
            gain = record[self.method.value] - record["scratch"]
            self.status.value = (
                f"{self.method.value}: {100 * record[self.method.value]:.1f}%, joint {100 * record['joint']:.1f}%, "
                f"scratch {100 * record['scratch']:.1f}% ({100 * gain:+.1f} points over scratch)"
            )
            return record
        finally:
            self.button.disabled = False

    def _draw(self, record: dict[str, Any], into_widget: bool = True) -> None:
        method = record["method"]
        names = ["scratch", "joint", method]
        with self.output if into_widget else nullcontext():
            if into_widget:
                self.output.clear_output(wait=True)
            fig, (bars, trend) = plt.subplots(1, 2, figsize=(9, 3.4))
            bars.bar(
                names, [100 * record[n] for n in names], color=[colour_of(n, i) for i, n in enumerate(names)]
            )
            bars.set_ylim(0, 100)
            bars.set_ylabel("French test accuracy (%)")
            bars.set_title(
                f"relatedness={record['relatedness']:.1f}, K={record['K']}, inner steps={record['inner_steps']}",
                fontsize=9,
            )
            for i, name in enumerate(("joint", *sorted({r["method"] for r in self.history}))):
                points = sorted(
                    (r["relatedness"], 100 * (r[name] - r["scratch"]))
                    for r in self.history
                    if name in r and (name == "joint" or r["method"] == name)
                )
                if points:
                    trend.plot(*zip(*points), "o", color=colour_of(name, i), label=name, alpha=0.8)
            trend.axhline(0, color="k", lw=0.8)
            trend.set(
                xlabel="relatedness (fr borrows from es)",
                ylabel="gain over scratch (points)",
                xlim=(-0.05, 1.05),
            )
            trend.set_title("all clicks so far (one draw each setting: a sketch)", fontsize=9)
            trend.legend(fontsize=8)
            fig.tight_layout()
            display(fig)
            plt.close(fig)
