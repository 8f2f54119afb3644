"""Every notebook runs top to bottom at PROFILE="quick", and its .py twin says exactly what the .ipynb says."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import jupytext
import nbformat
import pytest
from notebook_results import (
    check_key_result,
    check_protocol_file,
    check_provenance,
    expected_seeds,
    key_result,
    mean_of_rows,
    read_record,
    snapshot,
    written_since,
)

from xlmeta_lab.experiments.studies import sib200, udpos
from xlmeta_lab.teaching.profiles import profile_settings

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PAIRS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
KERNEL = "python3"  # passed explicitly: a kernel-name mismatch is a classic papermill failure


def test_there_are_notebooks() -> None:
    assert PAIRS, f"no notebooks in {NOTEBOOKS}"


def comparable_cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in notebook.cells]


@pytest.mark.parametrize("script", PAIRS, ids=lambda p: p.stem)
def test_py_and_ipynb_are_in_sync(script: Path) -> None:
    paired = script.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} missing: run `jupytext --sync {script}`"
    from_py = jupytext.read(script)
    from_ipynb = nbformat.read(paired, as_version=4)
    assert comparable_cells(from_py) == comparable_cells(from_ipynb), (
        f"{script.name} and {paired.name} differ: edit the .py, then `jupytext --sync {script}`"
    )


@pytest.mark.parametrize("script", PAIRS, ids=lambda p: p.stem)
def test_ipynb_is_stored_without_outputs(script: Path) -> None:
    notebook = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), (
        f"strip outputs of {script.stem}.ipynb"
    )


@pytest.mark.parametrize("script", PAIRS, ids=lambda p: p.stem)
def test_notebook_has_one_parameters_cell_with_profile_seed_device(script: Path) -> None:
    cells = [c for c in jupytext.read(script).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    for name in ("PROFILE", "SEED", "DEVICE"):
        assert f"{name} =" in cells[0].source
    assert "%pip" not in script.read_text() and "!pip" not in script.read_text(), (
        "no pip magics: the .py must stay Python"
    )


@pytest.mark.notebook
@pytest.mark.parametrize("script", PAIRS, ids=lambda p: p.stem)
def test_notebook_runs_at_quick_profile(
    script: Path, tmp_path: Path, notebook_outputs: Path, request: pytest.FixtureRequest
) -> None:
    from xlmeta_lab.teaching.workbook import NOTEBOOK_DATA

    if script.stem in NOTEBOOK_DATA:
        request.getfixturevalue("data_dir")  # skips, with the reason, when no data can be found at all
    checkout_before = files_written_in_checkout()
    results_before = snapshot(notebook_outputs / "results")
    outputs = execute(script.with_suffix(".ipynb"), tmp_path, {"PROFILE": "quick"})
    assert "profile=quick seed=0" in outputs, "the notebook must print its profile and seed (start_notebook)"
    assert files_written_in_checkout() == checkout_before, "a test run wrote into the checkout's results"
    if "results_dir()" in script.read_text():
        main = read_back(script.stem, outputs, notebook_outputs / "results", results_before)
        if script.stem == "02_toy_languages":
            assert_the_toy_shows_transfer(main["rows"])
            # the committed full run's table and negative-transfer verdict, beside this run's
            assert "REFERENCE (profile full" in outputs and "[committed full run] => At K=5" in outputs
        if script.stem == "03_en_es_to_fr":  # the protocol along the adaptation budget, and its far end
            assert "rate chosen on the holdout per budget" in outputs and "after the protocol's own budget" in outputs
            # the committed inner-loop reference: variants against joint and their one-step training, with costs
            assert "after 25 steps: best on the holdout" in outputs and "maml-5 - maml-1 at the same budget" in outputs
            assert "s/meta-step" in outputs


def read_back(
    stem: str, outputs: str, results: Path, before: dict[Path, int], run: str | None = None
) -> dict:
    """Every results file the run wrote, read back against the quick profile; the printed ``KEY RESULT``
    recomputed from the rows of the run's main file (``run``, by default ``{stem}-quick-seed0``)."""
    settings = profile_settings(stem, "quick")
    seeds = expected_seeds(settings, 0)
    written = written_since(results, before, f"{stem}-quick-*.json")
    assert written, f"{stem} wrote no results file under {results}"
    records = {path.stem: read_record(path) for path in written}
    for name, record in records.items():
        check_provenance(record, "quick", seeds)
        if "rows" in record and "protocol" in record["provenance"]["config"]:
            grid = expected_grid(stem, settings, record)
            n_draws = settings["n_draws"]
            main_04 = stem == "04_sentence_topics" and "sizes" not in record["provenance"]["config"]
            sweep_04 = stem == "04_sentence_topics" and not main_04  # its prototype views come beside
            within = settings["ks"] if main_04 else settings["sweep_ks"] if sweep_04 else None
            check_protocol_file(record, grid, n_draws, seeds, within)
            assert record["provenance"]["config"]["protocol"]["n_draws"] == n_draws, name
    main = records[run or f"{stem}-quick-seed0"]
    check_key_result(key_result(outputs), main["rows"])
    return main


def expected_grid(stem: str, settings: dict, record: dict) -> dict[str, list[int]]:
    """The conditions a notebook's results file must hold, each with its K values, from the profile's settings:
    what each notebook is written to run (its sections and their condition names), spelled out here once."""
    ks = list(settings["ks"])
    if stem == "02_toy_languages":  # the protocol, then section 6's language sets (K from 1 to 10)
        negative = [k for k in ks if 0 < k <= 10]
        return {
            **{name: ks for name in ["scratch", *settings["methods"]]},
            **{name: negative for name in ("en only", "es only", "en+es")},
        }
    if stem == "03_en_es_to_fr":  # the protocol, with the genre-task variants of genre_methods
        genres = [f"{m}-genres" for m in settings["genre_methods"]]
        return {name: ks for name in ["scratch", *settings["methods"], *genres]}
    if stem == "04_sentence_topics" and "sizes" in record["provenance"]["config"]:  # the language sweep
        sweep = [f"{m}@{n}" for m in settings["sweep_methods"] for n in settings["sweep_sizes"]]
        return {name: list(settings["sweep_ks"]) for name in sweep}
    if stem == "05_transfer_analysis":  # each source alone, the pair, pair + a distant one, more sources
        sets = [[lang] for lang in settings["languages"]] + [settings["pair"]]
        sets += [[*settings["pair"], far] for far in settings["distant"]] + settings["more_sources"]
        meta = record["provenance"]["config"]["meta_method"]
        return {"scratch": ks, **{f"{m}@{'+'.join(s)}": ks for s in sets for m in ("joint", meta)}}
    # notebook 04's protocol; its baselines and prototype views, named from their settings, may come beside
    return {name: ks for name in ["scratch", *settings["methods"]]}


def assert_the_toy_shows_transfer(rows: list[dict]) -> None:
    """What the toy languages are built to show at K = 5: every initialisation trained on en + es, meta-learned
    or joint, tags French better than a tagger trained from scratch on the same 5 sentences. (ANIL, which adapts
    only its tag head, is not part of the claim.)"""
    scratch = mean_of_rows(rows, "scratch", 5, "fr-test")
    for name in ("joint", "maml", "fomaml", "reptile"):
        assert mean_of_rows(rows, name, 5, "fr-test") > scratch, f"{name} not above scratch at K=5"


def execute(notebook: Path, out_dir: Path, parameters: dict[str, str]) -> str:
    """Run ``notebook`` with papermill from ``notebooks/``, as the workbook does; its printed text."""
    import papermill

    from xlmeta_lab.experiments.progress import ENV_PLAIN

    executed = out_dir / notebook.name
    with mock.patch.dict(os.environ, {ENV_PLAIN: "1"}):  # as the workbook does: text bars in the saved notebook
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters=parameters,
            kernel_name=KERNEL,
            cwd=str(NOTEBOOKS),
            progress_bar=False,
        )
    return "".join(
        o.get("text", "") for c in nbformat.read(executed, as_version=4).cells for o in c.get("outputs", [])
    )


def files_written_in_checkout() -> dict[Path, int]:
    """Results and checkpoints in the repository, with their modification times."""
    root = NOTEBOOKS.parent
    return {
        p: p.stat().st_mtime_ns
        for folder in (root / "results", root / "checkpoints")
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.mark.notebook
def test_notebook_03_runs_with_a_hugging_face_encoder(
    tmp_path: Path, data_dir: Path, notebook_outputs: Path
) -> None:
    """``MODEL`` set to a saved encoder folder: the path ``MODEL="xlm-roberta-base"`` takes, offline."""
    from tiny_encoder import save_tiny_encoder

    from xlmeta_lab.data.roles import meta_training_treebanks

    sentences = [s for pool in meta_training_treebanks(data_dir).values() for s in pool]
    encoder = save_tiny_encoder(tmp_path / "tiny-encoder", sentences, words=2000)
    results_before = snapshot(notebook_outputs / "results")
    outputs = execute(
        NOTEBOOKS / "03_en_es_to_fr.ipynb", tmp_path, {"PROFILE": "quick", "MODEL": str(encoder)}
    )
    assert f"EncoderTagger on {encoder}" in outputs
    assert "KEY RESULT: K=5 fr GSD" in outputs
    run = udpos.run_name("quick", 0, str(encoder))
    read_back(udpos.NOTEBOOK, outputs, notebook_outputs / "results", results_before, run)
    assert (
        "REFERENCE" not in outputs
    )  # the committed reference is the word tagger's: not shown beside this run


@pytest.mark.notebook
def test_notebook_04_runs_with_a_hugging_face_encoder(
    tmp_path: Path, data_dir: Path, notebook_outputs: Path
) -> None:
    """``MODEL`` set to a saved encoder folder: notebook 04's path for ``MODEL="xlm-roberta-base"``, offline."""
    from tiny_encoder import save_tiny_encoder

    from xlmeta_lab.data.roles import sib200_meta_training

    sentences = [e for pool in sib200_meta_training(data_dir=data_dir).values() for e in pool]
    encoder = save_tiny_encoder(tmp_path / "tiny-encoder", sentences, words=2000)
    results_before = snapshot(notebook_outputs / "results")
    outputs = execute(
        NOTEBOOKS / "04_sentence_topics.ipynb", tmp_path, {"PROFILE": "quick", "MODEL": str(encoder)}
    )
    assert f"EncoderClassifier on {encoder}" in outputs
    assert "KEY RESULT: K=4/topic fr" in outputs
    run = sib200.run_name("quick", 0, str(encoder))
    read_back(sib200.NOTEBOOK, outputs, notebook_outputs / "results", results_before, run)
    assert "REFERENCE" not in outputs and "No reference results" not in outputs  # the reference is char-cnn's
