"""Deployment: ``xlmeta adapt`` saves a tagger that needs nothing else, ``xlmeta tag`` and ``load_tagger`` use it.

The initialisations are trained here in a few steps on slices of the English and Spanish treebanks (the word
tagger, and the tiny local BERT of ``tiny_encoder.py`` for the Hugging Face path); the support file is 30 French
GSD dev sentences. Nothing is downloaded. The README's Deploy examples are run as written, with this checkpoint in
place of ``runs/ud-fomaml``.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
from pathlib import Path
from types import SimpleNamespace

import conllu
import pytest
import torch
from tiny_encoder import encoder_train_config, save_tiny_encoder
from treebanks import write_conllu

from xlmeta_lab.cli import main
from xlmeta_lab.data import sources
from xlmeta_lab.data.ud import UPOS_TAGS, load_treebank, read_conllu
from xlmeta_lab.experiments.config import FewShotConfig, TrainConfig
from xlmeta_lab.experiments.deployment import adapted_tagger as deploy
from xlmeta_lab.experiments.deployment.adapted_tagger import MODEL_FILE, adapt_checkpoint, load_tagger
from xlmeta_lab.experiments.deployment.fewshot import fewshot_from_files
from xlmeta_lab.experiments.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
FRENCH = ["Le chat dort sur le canapé.", "J'ai vu l'homme qui parle avec la presse."]
#: A small budget grid: the tests check the plumbing, not the budget.
QUICK = ["--shots", "3", "--draws", "2", "--lrs", "0.1", "0.3", "--steps", "5", "10"]
QUICK_CONFIG = FewShotConfig(shots=3, draws=2, lrs=(0.1, 0.3), steps=(5, 10))


@pytest.fixture(scope="module")
def files(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A word-tagger checkpoint trained for 4 steps on en/es slices, and a French support file."""
    folder = tmp_path_factory.mktemp("deploy")
    sources_ = {
        "en": load_treebank("en_ewt-dev", data_dir)[:80],
        "es": load_treebank("es_gsd-dev", data_dir)[:80],
    }
    config = TrainConfig(method="fomaml", steps=4, eval_every=2, checkpoint_every=2, hidden=16, max_len=30)
    train(sources_, config, folder / "init", progress=False)
    support = write_conllu(folder / "support.conllu", load_treebank("fr_gsd-dev", data_dir)[:30])
    return SimpleNamespace(folder=folder, init=folder / "init", support=support, sources=sources_)


def adapt_argv(files: SimpleNamespace, out: Path, *options: str) -> list[str]:
    """``xlmeta adapt`` of the test checkpoint on the test support file with a small grid, into ``out``."""
    init, support = str(files.init), str(files.support)
    return ["adapt", "--init", init, "--support", support, *QUICK, "--out", str(out), *options]


@pytest.fixture(scope="module")
def saved(files: SimpleNamespace) -> Path:
    """``xlmeta adapt`` run once on the word tagger."""
    out = files.folder / "fr-k3"
    assert main(adapt_argv(files, out)) == 0
    return out


def tag(model: Path, text: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """``xlmeta tag --model model`` on ``text`` given on standard input: (exit status, stdout, stderr)."""
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    status = main(["tag", "--model", str(model)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_adapt_saves_a_folder_with_its_provenance(saved: Path, files: SimpleNamespace) -> None:
    assert sorted(p.name for p in saved.iterdir()) == [
        "provenance.json",
        "vocab.json",
        "weights.safetensors",
        MODEL_FILE,
    ]
    record = load_tagger(saved).provenance
    config = record["config"]
    init_file = (files.init / "checkpoint.pt").resolve()
    assert config["init"] | {"train_config": None} == {
        "path": str(init_file),
        "sha256": sources.sha256_of(init_file),
        "method": "fomaml",
        "step": 4,
        "train_config": None,
    }
    assert (
        config["support"]["sha256"] == sources.sha256_of(files.support) and config["support"]["holdout"] == 6
    )
    assert config["shots"] == 3 and len(config["sentence_ids"]) == 3
    from xlmeta_lab.data.ud import read_conllu

    assert set(config["sentence_ids"]) <= {s.sent_id for s in read_conllu(files.support, lang="fr")}
    assert config["budget"]["lr"] in (0.1, 0.3) and config["budget"]["steps"] in (5, 10)
    assert record["seed"] == 0 and record["versions"]["xlmeta-lab"] and "commit" in record["git"]


def test_adapt_with_one_step_count_adapts_in_that_budget_and_says_how_long_it_took(
    files: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--steps 2``: a fixed few-step budget (the regime of notebook 03), recorded in the provenance with the
    seconds the adaptation and the budget search took, and printed."""
    out = files.folder / "fr-fast"
    assert main([*adapt_argv(files, out)[:-2], "--steps", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    config = load_tagger(out).provenance["config"]
    assert config["budget"]["steps"] == 2 and config["fewshot"]["steps"] == [2]
    seconds = config["seconds"]
    assert 0 < seconds["adaptation"] < seconds["budget_search"]  # one draw at one budget, against the whole grid
    assert f"adaptation took {seconds['adaptation']:.2f} s (2 steps)" in printed


def test_tag_prints_conllu_that_parses_back(
    saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = tag(saved, f"{FRENCH[0]}\n\n{FRENCH[1]}\n", monkeypatch, capsys)
    assert status == 0 and err == "note: skipped 1 empty line(s): 2\n"
    token_lines = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert all(len(line.split("\t")) == 10 for line in token_lines)
    first, second = conllu.parse(out)
    assert first.metadata == {"sent_id": "stdin-1", "text": FRENCH[0]}
    assert second.metadata["sent_id"] == "stdin-3"
    assert [t["form"] for t in second][:5] == ["J'", "ai", "vu", "l'", "homme"]
    assert all(t["upos"] in UPOS_TAGS for s in (first, second) for t in s)
    (tmp_path / "out.conllu").write_text(out, encoding="utf-8")
    assert [s.forms for s in read_conllu(tmp_path / "out.conllu", "fr")][0][
        -1
    ] == "."  # the package reads it too


def test_tag_fills_in_a_conllu_file_and_keeps_the_rest(
    saved: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tag", "--model", str(saved), str(FIXTURES / "good.conllu")]) == 0
    out = capsys.readouterr().out
    assert "3-4\tdu\t_\t_\t_\t_\t_\t_\t_\t_" in out and "\t2\tobl\t" in out  # a range and HEAD/DEPREL kept
    assert [s.metadata["sent_id"] for s in conllu.parse(out)] == ["good-1", "good-2"]


def test_unknown_characters_are_a_warning_with_their_share(
    saved: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = tag(saved, "Le chat ☃ dort .\n", monkeypatch, capsys)
    assert status == 0 and "\t☃\t" in out
    assert (
        err
        == "warning: 8.3% of the characters to tag (1 of 12) are unknown to the model (☃); it reads each as its unknown symbol\n"
    )


def test_load_tagger_gives_the_in_memory_taggers_tags(
    files: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xlmeta_lab import load_tagger as from_the_package

    adapted = adapt_checkpoint(files.init, files.support, QUICK_CONFIG)
    sentences = [*FRENCH, ["Il", "pleut", "."], *[" ".join(s.forms) for s in files.sources["es"][:20]]]
    expected = adapted(sentences)
    loaded = from_the_package(adapted.save(tmp_path / "model"))
    assert loaded(sentences) == expected and len(expected[2]) == 3
    weights = dict(loaded.model.named_parameters())
    assert all(torch.equal(p, weights[n]) for n, p in adapted.model.named_parameters())
    monkeypatch.setattr(deploy, "_has_safetensors", lambda: False)  # without safetensors: torch.save
    assert "weights.pt" in os.listdir(adapted.save(tmp_path / "plain"))
    assert load_tagger(tmp_path / "plain")(sentences) == expected


def test_adapt_chooses_the_budget_fewshot_chooses(
    files: SimpleNamespace, data_dir: Path, tmp_path: Path
) -> None:
    test = write_conllu(tmp_path / "test.conllu", load_treebank("fr_gsd-test", data_dir)[:20])
    report = fewshot_from_files(files.init, files.support, test, QUICK_CONFIG)
    budget = adapt_checkpoint(files.init, files.support, QUICK_CONFIG).provenance["config"]["budget"]
    chosen = report.result.budgets["fomaml"]
    assert (budget["lr"], budget["steps"]) == (chosen.lr, chosen.steps)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not a model", "is not a saved tagger: it has no xlmeta-model.json"),
        ("a checkpoint", "it holds a training checkpoint: make a tagger of it with xlmeta adapt --init"),
        ("no such folder", "no saved tagger at"),
        ("weights lost", "is an incomplete saved tagger: weights.safetensors missing"),
        ("weights cut", "weights.safetensors cannot be loaded into this tagger (damaged"),
        ("empty input", "stdin holds no sentence to tag"),
    ],
)
def test_tag_refusals_are_one_error_line(
    case: str,
    message: str,
    files: SimpleNamespace,
    saved: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = {"not a model": tmp_path, "a checkpoint": files.init, "no such folder": tmp_path / "missing"}.get(
        case, saved
    )
    if case.startswith("weights"):
        model = Path(shutil.copytree(saved, tmp_path / "copy"))
        weights = model / "weights.safetensors"
        if case == "weights lost":
            weights.unlink()
        else:  # cut short, as an interrupted copy leaves it
            weights.write_bytes(weights.read_bytes()[:1000])
    status, out, err = tag(model, "\n\n" if case == "empty input" else FRENCH[0], monkeypatch, capsys)
    assert status == 2 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_tag_refuses_a_file_that_is_not_utf8(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Le café\n".encode("latin-1"))
    assert main(["tag", "--model", str(saved), str(latin1)]) == 2
    assert (
        capsys.readouterr().err
        == f"error: {latin1} is not UTF-8 text (invalid continuation byte at byte 6)\n"
    )


def test_adapt_refuses_an_out_that_holds_a_tagger_unless_overwrite(
    files: SimpleNamespace, saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = Path(shutil.copytree(saved, tmp_path / "model"))
    before = (out / "provenance.json").read_text()
    assert main(adapt_argv(files, out)) == 2
    err = capsys.readouterr().err
    assert "already holds a saved tagger" in err and "replace it with --overwrite" in err  # says the way out
    assert (out / "provenance.json").read_text() == before  # refused before anything was written
    assert main(adapt_argv(files, out, "--overwrite", "--seed", "1")) == 0
    assert (out / "provenance.json").read_text() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary or old folder left


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--shots", "25"], "K=25 is larger than the support pool: "),
        (["--out", "{other}"], "holds other files"),
    ],
)
def test_adapt_refusals_are_one_error_line(
    options: list[str],
    message: str,
    files: SimpleNamespace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    argv = [
        a.replace("{other}", str(tmp_path / "other")) for a in adapt_argv(files, tmp_path / "new") + options
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "new").exists() and (tmp_path / "other" / "notes.txt").exists()


def test_an_encoder_tagger_round_trips_without_its_original_encoder(
    files: SimpleNamespace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    encoder = save_tiny_encoder(
        tmp_path / "tiny-bert",
        [*files.sources["en"], *files.sources["es"], *read_conllu(files.support, "fr")],
    )
    config = encoder_train_config(encoder, method="fomaml", steps=2, max_len=40, max_subtokens=96)
    train(files.sources, config, tmp_path / "init", progress=False)
    adapted = adapt_checkpoint(
        tmp_path / "init", files.support, FewShotConfig(shots=3, draws=1, lrs=(0.01,), steps=(2,))
    )
    expected = adapted(FRENCH)
    adapted.save(tmp_path / "model")
    shutil.rmtree(encoder)  # the saved folder must not need it
    saved_files = os.listdir(tmp_path / "model")
    assert {"model.safetensors", "tagger.json", "tagger_head.safetensors", "tokenizer.json"} <= set(
        saved_files
    )
    assert load_tagger(tmp_path / "model")(FRENCH) == expected
    status, out, _ = tag(tmp_path / "model", FRENCH[0], monkeypatch, capsys)
    assert status == 0 and [t["upos"] for t in conllu.parse(out)[0]] == expected[0]


def readme_deploy_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## Deploy", 1)[1].split("\n## ", 1)[0]


def test_readme_deploy_examples_run_as_written(
    files: SimpleNamespace,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's commands and Python, run in a folder where ``runs/ud-fomaml`` is this test's checkpoint."""
    section = readme_deploy_section()
    shell = re.search(r"```bash\n(.*?)```", section, re.S).group(1).replace("\\\n", " ")
    python = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(sources.ENV_DATA, str(data_dir))
    shutil.copytree(files.init, tmp_path / "runs" / "ud-fomaml")
    commands = [line.split("  #")[0].strip() for line in shell.splitlines() if line.strip()]
    assert [c.split("|")[-1].split()[:2] for c in commands] == [
        ["xlmeta", "adapt"],
        ["xlmeta", "tag"],
        ["xlmeta", "tag"],
    ]
    for command in commands:
        piped, _, command = command.rpartition("|")
        monkeypatch.setattr("sys.stdin", io.StringIO(shlex.split(piped)[1] + "\n" if piped else ""))
        assert main(shlex.split(os.path.expandvars(command))[1:]) == 0, command
    printed = capsys.readouterr().out
    assert "saved to models/fr-fomaml-k10" in printed and "# text = Le chat dort sur le canapé ." in printed
    exec(compile(python, "README.md", "exec"), {})  # the README's own example, as written
    tags = capsys.readouterr().out
    assert re.fullmatch(r"\[\[('[A-Z]+', ){3}'[A-Z]+'\]\]\n", tags)
