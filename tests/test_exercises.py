"""Exercises: the workbook's solutions pass their checks, typical mistakes get their specific hint, and a student
copy stubs every solution out and still runs."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import torch

from xlmeta_lab.teaching.exercises import ExerciseFailed, check, exercises_done, hint, lookup, registered
from xlmeta_lab.teaching.exercises import derivation as solutions
from xlmeta_lab.teaching.exercises.blocks import solution_blocks
from xlmeta_lab.teaching.student import stub_lines, stub_solutions, student_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("key", [e.key for e in registered() if not e.open])  # open ones: test_open_exercises
def test_the_workbook_solution_passes_its_check(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    exercise = lookup(key)
    assert check(key, exercise.solution) is exercise.solution
    assert f"exercise {exercise.number}: correct" in capsys.readouterr().out


def _without_hessian(theta, task, inner_lr):  # type: ignore[no-untyped-def]
    return solutions.first_order_meta_gradient(theta, task, inner_lr)


def _averaged(model, params, tasks, inner_lr, outer_lr):  # type: ignore[no-untyped-def]
    return solutions.maml_outer_step(model, params, tasks, inner_lr, outer_lr / len(tasks))


def _uphill(theta, loss, inner_lr, inner_steps):  # type: ignore[no-untyped-def]
    return -solutions.reptile_direction(theta, loss, inner_lr, inner_steps)


def _one_step_short(theta, loss, inner_lr, inner_steps):  # type: ignore[no-untyped-def]
    return solutions.reptile_direction(theta, loss, inner_lr, inner_steps - 1)


def _gradient_not_hvp(loss, theta, vector):  # type: ignore[no-untyped-def]
    theta = theta.detach().requires_grad_(True)
    return torch.autograd.grad(loss(theta), theta)[0]


def _full_maml_for_fomaml(theta, task, inner_lr):  # type: ignore[no-untyped-def]
    return solutions.one_step_meta_gradient(theta, task, inner_lr)


def _per_task_rows(theta, task, inner_lr):  # type: ignore[no-untyped-def]
    return solutions.one_step_meta_gradient(theta, task, inner_lr).repeat(2, 1)


def _broken(theta, task, inner_lr):  # type: ignore[no-untyped-def]
    return theta.reshape(3, -1) @ theta


@pytest.mark.parametrize(
    ("key", "answer", "hint"),
    [
        ("01.1", _without_hessian, "the Hessian term is missing"),
        ("01.1", _per_task_rows, "has shape"),
        ("01.1", _broken, "your function raised RuntimeError"),
        ("01.2", _gradient_not_hvp, "it is the gradient, not H @ v"),
        ("01.3", _full_maml_for_fomaml, "it still contains the Hessian term"),
        ("01.4", _uphill, "wrong sign"),
        ("01.4", _one_step_short, "one step too few"),
        ("01.5", _averaged, "you averaged the tasks' gradients"),
    ],
)
def test_a_typical_mistake_gets_its_own_hint(key: str, answer: object, hint: str) -> None:
    with pytest.raises(ExerciseFailed, match=re.escape(hint)):
        check(key, answer)  # type: ignore[arg-type]


# -- notebook 02 and 03: the slips their checks name ----------------------------------------------------------


def _jaccard(a, b):  # type: ignore[no-untyped-def]
    types_a = {f for s in a for f, t in zip(s.forms, s.tags) if t != "PUNCT"}
    types_b = {f for s in b for f, t in zip(s.forms, s.tags) if t != "PUNCT"}
    return len(types_a & types_b) / len(types_a | types_b)


def _overlapping_episode(sentences, lang, k, query_size, seed):  # type: ignore[no-untyped-def]
    import random

    pool = [s for s in sentences if s.lang == lang]
    rng = random.Random(seed)
    return rng.sample(pool, k), rng.sample(pool, query_size)


def _unchecked_episode(sentences, lang, k, query_size, seed):  # type: ignore[no-untyped-def]
    import random

    pool = [s for s in sentences if s.lang == lang]
    picked = random.Random(seed).sample(
        range(len(pool)), k + query_size
    )  # Python's own message when too many
    return [pool[i] for i in picked[:k]], [pool[i] for i in picked[k:]]


def _padding_counted(predicted, gold):  # type: ignore[no-untyped-def]
    return float((predicted == gold).double().mean())


def _uphill_finetune(model, support, lr, steps):  # type: ignore[no-untyped-def]
    from xlmeta_lab.teaching.exercises.toy import plain_sgd

    return plain_sgd(model, support, -lr, steps)


def _budget_on_test(scores):  # type: ignore[no-untyped-def]
    import statistics

    test = scores["fr_gsd-test"]
    return max(test, key=lambda b: (statistics.fmean(test[b]), -b[0], -b[1]))


def _z_interval(accuracy, baseline):  # type: ignore[no-untyped-def]
    import math
    import statistics

    diffs = [accuracy[u] - baseline[u] for u in sorted(set(accuracy) & set(baseline))]
    mean, half = statistics.fmean(diffs), 1.96 * statistics.stdev(diffs) / math.sqrt(len(diffs))
    return mean, mean - half, mean + half


def _unpaired_interval(accuracy, baseline):  # type: ignore[no-untyped-def]
    import math
    import statistics

    from xlmeta_lab.experiments.protocol.stats import t_quantile_975

    units = sorted(set(accuracy) & set(baseline))
    a, b = [accuracy[u] for u in units], [baseline[u] for u in units]
    mean = statistics.fmean(a) - statistics.fmean(b)
    half = t_quantile_975(2 * len(units) - 2) * math.sqrt(
        (statistics.variance(a) + statistics.variance(b)) / len(units)
    )
    return mean, mean - half, mean + half


def _by_predicted_tag(predicted, gold, tags):  # type: ignore[no-untyped-def]
    real = gold != -100
    return {
        tags[t]: (int(((predicted == t) & real & (gold == t)).sum()), int(((predicted == t) & real).sum()))
        for t in predicted[real].unique().tolist()
    }


@pytest.mark.parametrize(
    ("key", "answer", "hint"),
    [
        ("02.1", _jaccard, "a Jaccard index"),
        ("02.2", _overlapping_episode, "support and query share"),
        ("02.2", _unchecked_episode, "raise your own ValueError"),
        ("02.3", _padding_counted, "padding is counted as wrong"),
        ("02.4", _uphill_finetune, "the steps went uphill"),
        ("03.1", _budget_on_test, "the budget the TEST sets score best"),
        ("03.2", _z_interval, "z = 1.96"),
        ("03.2", _unpaired_interval, "treats the two conditions as independent samples"),
        ("03.3", _by_predicted_tag, "grouped by their PREDICTED tag"),
    ],
)
def test_a_typical_mistake_in_02_or_03_gets_its_own_hint(key: str, answer: object, hint: str) -> None:
    with pytest.raises(ExerciseFailed, match=re.escape(hint)):
        check(key, answer)  # type: ignore[arg-type]


def test_an_answer_off_by_a_little_is_told_by_how_much() -> None:
    def nearly(theta, task, inner_lr):  # type: ignore[no-untyped-def]
        return solutions.one_step_meta_gradient(theta, task, inner_lr) + 1e-4

    with pytest.raises(ExerciseFailed, match=r"differs from the reference by up to 0\.0001"):
        check("01.1", nearly)


def test_an_unwritten_exercise_is_not_done_yet_and_the_notebook_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def stub(theta, task, inner_lr):  # type: ignore[no-untyped-def]
        raise NotImplementedError("Exercise 1: the one-step meta-gradient")

    assert check("01.1", stub) is solutions.one_step_meta_gradient
    out = capsys.readouterr().out
    assert "exercise 1: not done yet" in out
    assert "uses the WORKBOOK'S" in out, "a fallback to the workbook's solution is announced in a banner"
    assert lookup("01.1").hints[0] in out and lookup("01.1").hints[1] not in out


def test_exercises_done_counts_the_checks_of_a_session(capsys: pytest.CaptureFixture[str]) -> None:
    def stub(*args):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    keys = [e.key for e in registered("06")]
    for key in keys:
        check(key, stub)
    assert exercises_done("06") == (0, len(keys))
    check(keys[0], lookup(keys[0]).solution)
    with pytest.raises(ExerciseFailed):
        check(keys[1], lambda *args: None)  # wrong: not done, even if it was done before
    assert exercises_done("06") == (1, len(keys))
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"exercises done: 1 of {len(keys)} (not yet: {', '.join(keys[1:])})"


def test_a_solution_block_becomes_a_stub_with_only_the_first_hint() -> None:
    source = (
        "def f(theta, task, inner_lr):\n"
        '    """doc"""\n'
        "    # BEGIN SOLUTION (exercise 01.1)\n"
        "    secret = 42\n"
        "    return secret\n"
        "    # END SOLUTION\n"
    )
    stubbed, keys = stub_solutions(source, "test cell")
    assert keys == ["01.1"]
    assert "secret" not in stubbed
    assert '    raise NotImplementedError("Exercise 1: the one-step meta-gradient")' in stubbed
    first, *later = lookup("01.1").hints
    comments = " ".join(line.strip().removeprefix("# ") for line in stubbed.splitlines() if "#" in line)
    assert first in comments and not any(h in comments for h in later)
    assert 'hint("01.1")' in comments
    namespace: dict[str, object] = {}
    exec(stubbed, namespace)  # the stub is valid Python that raises the right error
    with pytest.raises(NotImplementedError, match="Exercise 1"):
        namespace["f"](None, None, None)  # type: ignore[operator]


# -- a stub never holds its solution's code --------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d+)?|==|!=|<=|>=|->|\*\*|//|[^\s\w]")
#: A run of this many solution tokens in a stub is code, not an idea ("real = gold != -100" is six).
_RUN = 4


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _code_tokens(code: str) -> list[str]:
    """The solution's tokens without its comments: a comment is prose, and prose may be shared."""
    return _tokens("\n".join(line.split("#", 1)[0] for line in code.splitlines()))


def _shared_code(code: str, stub: str) -> str | None:
    """The first run of ``_RUN`` consecutive solution tokens the stub also holds, or None."""
    stub_tokens = _tokens(stub)
    stub_runs = {tuple(stub_tokens[i : i + _RUN]) for i in range(len(stub_tokens) - _RUN + 1)}
    solution = _code_tokens(code)
    for i in range(len(solution) - _RUN + 1):
        if tuple(solution[i : i + _RUN]) in stub_runs:
            return " ".join(solution[i : i + _RUN])
    return None


def _blocks() -> list:
    found = []
    for script in NOTEBOOKS:
        for index, cell in enumerate(jupytext.read(script).cells):
            if cell.cell_type == "code":
                found += solution_blocks(cell.source, f"{script.name}, cell {index}")
    return found


@pytest.mark.parametrize("block", _blocks(), ids=lambda b: b.exercise.key)
def test_no_stub_holds_its_solutions_code(block) -> None:  # type: ignore[no-untyped-def]
    stub = "\n".join(stub_lines(block))
    assert _shared_code(block.code, stub) is None, f"the stub of {block.exercise.key} gives away code"


def test_the_token_comparison_catches_code_in_a_stub() -> None:
    """The test above can fail: a stub made of the code hint, as stubs were once, is caught."""
    (block,) = [b for b in _blocks() if b.exercise.key == "02.3"]
    assert _shared_code(block.code, lookup("02.3").hints[-1]) is not None
    assert _shared_code(block.code, block.code) is not None
    caught = [b.exercise.key for b in _blocks() if _shared_code(b.code, b.exercise.hints[-1])]
    assert len(caught) >= 10, f"only {caught} of the code hints share code with their solution"


@pytest.mark.parametrize("key", [e.key for e in registered()])
def test_hints_go_from_the_idea_to_the_code(key: str) -> None:
    """One to three distinct layers; the first, the one a stub shows, holds none of Python's operators."""
    hints = lookup(key).hints
    assert 1 <= len(hints) <= 3 and len(set(hints)) == len(hints)
    assert not re.search(r"==|!=|\(\)|\w\(|\[\w", hints[0]), f"the first hint of {key} reads like code: {hints[0]}"


def test_hint_reveals_the_next_level_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    hints = lookup("02.3").hints
    assert hint("02.3") == hints[1]  # the stub showed the first
    assert hint("02.3") == hints[2]
    assert hint("02.3") == hints[2]  # no further: the last again
    assert hint("02.3", 1) == hints[0]
    out = capsys.readouterr().out
    assert "hint 2 of 3" in out and "hint 3 of 3" in out and 'next: hint("02.3")' in out
    with pytest.raises(ValueError, match="hints 1 to 3"):
        hint("02.3", 4)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("# BEGIN SOLUTION (exercise 01.1)\nx = 1\n", "never closed"),
        ("x = 1\n# END SOLUTION\n", "END SOLUTION without a BEGIN"),
        ("# BEGIN SOLUTION (exercise 01.1)\n# BEGIN SOLUTION (exercise 01.2)\n", "inside the block"),
        ("# BEGIN SOLUTION (exercise 09.9)\n# END SOLUTION\n", "no exercise '09.9'"),
    ],
)
def test_a_malformed_solution_block_is_refused(source: str, problem: str) -> None:
    with pytest.raises((ValueError, KeyError), match=re.escape(problem)):
        stub_solutions(source, "cell 3")


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_copy_holds_no_solution_and_every_exercise_is_checked(script: Path) -> None:
    notebook = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    copy, keys = student_notebook(notebook, script.name)
    text = "\n".join(c.source for c in copy.cells if c.cell_type == "code")
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert keys == [e.key for e in registered(script.stem[:2])], "each registered exercise appears once, in order"
    for key in keys:
        assert re.search(rf'check\(\s*"{re.escape(key)}",', text), f"exercise {key} is never checked in {script.name}"


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_exercises_and_predict_then_run_prompts(script: Path) -> None:
    cells = jupytext.read(script).cells
    exercises = [c for c in cells if "exercise" in c.metadata.get("tags", [])]
    predictions = [c for c in cells if c.cell_type == "markdown" and "**Predict, then run.**" in c.source]
    assert len(exercises) >= 3, f"{script.name}: {len(exercises)} exercises, at least 3 wanted"
    assert len(predictions) >= 2, f"{script.name}: {len(predictions)} predict-then-run prompts, at least 2 wanted"


def test_the_first_three_notebooks_hold_at_least_twelve_exercises() -> None:
    assert len([e for e in registered() if e.notebook in ("01", "02", "03")]) >= 12


def test_workbook_student_writes_copies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from xlmeta_lab.cli import main

    assert main(["workbook", "--student", str(tmp_path), "--only", "01"]) == 0
    assert [p.name for p in tmp_path.glob("*.ipynb")] == ["01_maml_derivation.ipynb"]
    assert "5 exercises" in capsys.readouterr().out


@pytest.mark.notebook
@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_copy_runs_top_to_bottom(
    script: Path, tmp_path: Path, notebook_outputs: Path, request: pytest.FixtureRequest
) -> None:
    """CI runs the student copies too: every exercise reports "not done yet" and nothing else fails."""
    import papermill

    from xlmeta_lab.teaching.student import write_student_copies
    from xlmeta_lab.teaching.workbook import NOTEBOOK_DATA

    if script.stem in NOTEBOOK_DATA:
        request.getfixturevalue("data_dir")
    (copy,) = write_student_copies([script.with_suffix(".ipynb")], tmp_path / "student")
    executed = tmp_path / "executed" / copy.name  # the notebook's own name, which --progress reads
    executed.parent.mkdir()
    papermill.execute_notebook(
        str(copy), str(executed), parameters={"PROFILE": "quick"}, kernel_name="python3",
        cwd=str(copy.parent), progress_bar=False,
    )
    printed = "".join(
        o.get("text", "") for c in nbformat.read(executed, as_version=4).cells for o in c.get("outputs", [])
    )
    exercises = registered(script.stem[:2])
    for exercise in exercises:
        assert f"exercise {exercise.number}: not done yet" in printed
    assert ": correct." not in printed
    assert printed.count("uses the WORKBOOK'S") == len([e for e in exercises if not e.open]), "fallbacks announced"
    assert printed.count("open-ended, so nothing stands in") == len([e for e in exercises if e.open])
    assert f"exercises done: 0 of {len(exercises)}" in printed

    from xlmeta_lab.teaching.exercises.progress import notebook_progress

    progress = notebook_progress(executed)
    assert progress.finished and set(progress.outcomes.values()) == {"not done yet"}


# -- a learner's progress, read back from executed copies ------------------------------------------------------


def _executed(path: Path, outputs: list[dict]) -> None:
    """An executed notebook whose cells printed ``outputs`` (one cell each), as papermill would save it."""
    cells = []
    for output in outputs:
        cell = nbformat.v4.new_code_cell("...")
        cell.outputs = [nbformat.from_dict(output)]
        cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)


def _printed(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def test_progress_lists_each_learners_exercises(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from xlmeta_lab.cli import main
    from xlmeta_lab.teaching.exercises.progress import folder_progress

    name = "01_maml_derivation.ipynb"
    _executed(  # ada: 1 right after a wrong try, 2 not done, 3 wrong (the notebook stopped there)
        tmp_path / "ada" / name,
        [
            {"output_type": "error", "ename": "ExerciseFailed", "evalue": "exercise 1 (x): off", "traceback": []},
            _printed("exercise 1: correct. the meta-gradient matches\n"),
            _printed("exercise 2: not done yet (a Hessian-vector product). Hint 1 of 3: ...\n"),
            {"output_type": "error", "ename": "ExerciseFailed", "evalue": "exercise 3 (y): sign", "traceback": []},
        ],
    )
    _executed(  # bo: everything checked, the notebook ran to its end
        tmp_path / "bo" / name,
        [_printed(f"exercise {n}: correct. fine\n") for n in range(1, 6)] + [_printed("exercises done: 5 of 5\n")],
    )
    ada, bo = folder_progress(tmp_path)
    assert (ada.learner, bo.learner) == ("ada", "bo")
    assert ada.outcomes == {
        "01.1": "correct", "01.2": "not done yet", "01.3": "wrong", "01.4": "not reached", "01.5": "not reached"
    }
    assert not ada.finished and bo.finished and len(bo.done) == 5
    assert main(["workbook", "--progress", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "ada", "01_maml_derivation", "1", "of", "5", "done;", "wrong:", "01.3;", "not", "done", "yet:", "01.2;",
        "not", "reached:", "01.4,", "01.5;", "did", "not", "reach", "its", "last", "cell",
    ]
    assert out[1].split()[:6] == ["bo", "01_maml_derivation", "5", "of", "5", "done"]
    assert out[-1] == "6 of 10 exercises done in 2 notebooks"


def test_progress_of_an_empty_folder_says_so(tmp_path: Path) -> None:
    from xlmeta_lab.teaching.exercises.progress import folder_progress

    with pytest.raises(FileNotFoundError, match="no executed notebooks"):
        folder_progress(tmp_path)
