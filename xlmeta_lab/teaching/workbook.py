"""``xlmeta workbook``: run every notebook top to bottom, as a learner would, and summarise.

Each notebook is executed with papermill (the ``parameters`` cell receives ``PROFILE``) into ``build/``,
so the executed copies, with their plots and tables, can be opened afterwards. A notebook reports its
headline with :func:`xlmeta_lab.teaching.notebook.report_key_result`; the summary shows that line beside the
status and the wall time.

Before any notebook runs, every data file the chosen notebooks read is resolved (downloaded into the user
cache when online), so a missing file stops the workbook in seconds with the whole message, not an hour in.
A notebook is executed into a temporary file that replaces the previous executed copy only when the run
ended (passed or failed); an interrupted run leaves the last complete copy in place.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import nbformat
from tqdm.auto import tqdm

from xlmeta_lab.data.roles import TRANSFER_EXPERIMENT_FILES, UD_EXPERIMENT_FILES, sib200_experiment_files
from xlmeta_lab.data.sib200 import TRAINING_LANGUAGES
from xlmeta_lab.data.sources import resolve_all
from xlmeta_lab.experiments.progress import ENV_PLAIN
from xlmeta_lab.experiments.workers import WORKERS_VARIABLE, worker_count
from xlmeta_lab.teaching.notebook import key_result_in

DEFAULT_KERNEL = "python3"
#: Jupyter's own matplotlib backend: figures become image outputs of the executed notebook.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
#: The registered data files each notebook reads (notebooks that read none are absent).
NOTEBOOK_DATA: dict[str, tuple[str, ...]] = {
    "03_en_es_to_fr": UD_EXPERIMENT_FILES,
    "04_sentence_topics": sib200_experiment_files(TRAINING_LANGUAGES),  # its sweep reads all 20 languages
    "05_transfer_analysis": TRANSFER_EXPERIMENT_FILES,
}


def _local_kernel_manager() -> type | None:
    """A kernel manager that talks to the kernel over local IPC sockets (POSIX only).

    Over TCP, ipykernel warns in every notebook that the traffic is unencrypted, which is noise for a kernel
    on the same machine; IPC sockets keep the traffic local and the log clean.
    """
    if os.name != "posix":
        return None
    from jupyter_client.manager import AsyncKernelManager

    class LocalKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**kwargs)
            self.transport = "ipc"

    return LocalKernelManager


class WorkbookInterrupted(KeyboardInterrupt):
    """Ctrl-C during a notebook: names the notebook stopped and says the previous copy was kept."""


@dataclass(frozen=True)
class NotebookRun:
    notebook: str
    status: str
    seconds: float
    key_result: str
    #: The executed copy, which holds the outputs (and a failure's traceback).
    executed: Path | None = None


def find_notebooks_dir(explicit: Path | None = None) -> Path:
    """``notebooks/`` of the current folder, else of the source checkout this package was installed from."""
    candidates = (
        [explicit]
        if explicit
        else [Path.cwd() / "notebooks", Path(__file__).resolve().parents[1] / "notebooks"]
    )
    for folder in candidates:
        if folder is not None and any(folder.glob("[0-9][0-9]_*.ipynb")):
            return folder
    raise FileNotFoundError(
        "no notebooks found (looked in: " + ", ".join(str(c) for c in candidates if c) + "); "
        "run from the repository root or pass --notebooks-dir"
    )


def key_result_of(executed: Path) -> str:
    """The last line a notebook printed after the key-result marker, or '' if it printed none."""
    return key_result_in(nbformat.read(executed, as_version=4))


def select_notebooks(folder: Path, selection: list[str] | None) -> list[Path]:
    """The notebooks of ``folder`` in order, or those whose name starts with one of ``selection``."""
    notebooks = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if selection:
        notebooks = [nb for nb in notebooks if any(nb.stem.startswith(s) for s in selection)]
        if not notebooks:
            raise ValueError(
                f"no notebook matches {selection}; available: {[p.stem for p in folder.glob('*.ipynb')]}"
            )
    return notebooks


#: Where the committed student copies live, relative to the repository; their Colab badges open them there.
STUDENT_DIR = Path("notebooks") / "student"
_BADGE = re.compile(
    r"(https://colab\.research\.google\.com/github/[^)\s]+/blob/[^/)\s]+/)notebooks/([^)\s]+\.ipynb)"
)


def finish_student_copy(path: Path) -> None:
    """Make the copy at ``path`` a learner's: its Colab badge opens the committed student copy (not the
    solutions), and it is not paired with a ``.py`` source, so saving it in Jupyter writes no second file."""
    notebook = nbformat.read(path, as_version=4)
    first = notebook.cells[0] if notebook.cells else None
    if first is None or first.cell_type != "markdown" or not _BADGE.search(first.source):
        raise ValueError(f"{path}: its first cell has no Colab badge to point at the student copy")
    first.source = _BADGE.sub(lambda m: f"{m[1]}{STUDENT_DIR.as_posix()}/{m[2]}", first.source)
    notebook.metadata.get("jupytext", {}).pop("formats", None)
    nbformat.write(notebook, path)


def write_student_workbook(
    out_dir: Path | None = None, selection: list[str] | None = None, notebooks_dir: Path | None = None
) -> dict[Path, list[str]]:
    """Write student copies of the (selected) notebooks into ``out_dir`` and say how to run them.

    Every copy's Colab badge opens the committed copy in ``notebooks/student/``, so a learner who clicks it gets
    stubs to fill in, wherever the instructor wrote this set. Without ``out_dir`` they go to ``student/`` beside
    the notebooks: in the repository, the committed copies, which a test keeps in step with the solutions.
    """
    from xlmeta_lab.teaching.student import write_student_copies

    folder = find_notebooks_dir(notebooks_dir)
    out_dir = out_dir if out_dir is not None else folder / STUDENT_DIR.name
    written = write_student_copies(select_notebooks(folder, selection), out_dir)
    for path, keys in written.items():
        finish_student_copy(path)
        print(f"{path}: {len(keys)} exercises ({', '.join(keys) or 'none'})")
    print(
        f"run them as a learner would: `jupyter lab {out_dir}`; or all at once: "
        f"`xlmeta workbook --notebooks-dir {out_dir} --out build/student`"
    )
    return written


def run_workbook(
    profile: str = "quick",
    selection: list[str] | None = None,
    out_dir: Path = Path("build"),
    notebooks_dir: Path | None = None,
    kernel: str = DEFAULT_KERNEL,
    seed: int | None = None,
    record_times: bool = False,
    workers: int | None = None,
) -> list[NotebookRun]:
    """Execute the notebooks (all, or those whose name starts with one of ``selection``) and summarise.

    ``workers``: processes each notebook's protocol and training of conditions share their units among, handed
    to the kernels as ``$XLMETA_WORKERS`` (:mod:`xlmeta_lab.experiments.workers`); ``None`` leaves it as it is.

    With ``record_times``, the solution notebooks' wall times are recorded (:func:`record_run_times`); a student copy's
    are not, since its stubs fall back to the workbook's solutions and it is not what the timing file describes.
    """
    try:
        import papermill  # imported here: it is slow to import and only this command needs it
    except ImportError:
        raise OSError(
            "running the workbook needs papermill: pip install 'xlmeta-lab[notebooks]' (or -e '.[notebooks]')"
        ) from None

    folder = find_notebooks_dir(notebooks_dir)
    notebooks = select_notebooks(folder, selection)
    if record_times and any(
        nbformat.read(nb, as_version=4).metadata.get("xlmeta_student_copy") for nb in notebooks
    ):
        raise ValueError("--time measures the solution notebooks; these are student copies")
    needed = sorted({key for nb in notebooks for key in NOTEBOOK_DATA.get(nb.stem, ())})
    if needed:
        resolve_all(needed)  # DataNotFoundError: every missing file, and the three ways to provide them
    out_dir.mkdir(parents=True, exist_ok=True)
    parameters = {"PROFILE": profile} | ({"SEED": seed} if seed is not None else {})
    interactive = sys.stderr.isatty()  # progress bars for a person at a terminal, never in a log
    # the kernels started here inherit it, so text bars survive in the saved notebooks; restored afterwards
    machine = _machine() if record_times else ""  # before the run: the load it found, not the load it made
    shared = {WORKERS_VARIABLE: str(worker_count(workers))} if workers is not None else {}
    # The kernels draw figures into the notebook whatever the shell's MPLBACKEND (CI sets Agg, which would leave
    # the executed copies, and the --html pages made from them, without a single figure).
    kernel_env = {ENV_PLAIN: "1", "MPLBACKEND": INLINE_BACKEND, **shared}
    with mock.patch.dict(os.environ, kernel_env):
        runs = _execute(papermill, notebooks, folder, out_dir, parameters, kernel, interactive)
    print(format_summary(runs, profile, out_dir))
    if record_times:
        print(
            f"run times written to {record_run_times(runs, profile, machine, folder)}, the README and the notebooks"
        )
    return runs


def _execute(
    papermill: Any,
    notebooks: list[Path],
    folder: Path,
    out_dir: Path,
    parameters: dict[str, Any],
    kernel: str,
    interactive: bool,
) -> list[NotebookRun]:
    """Run each notebook into a hidden partial copy, then put it in place: an interrupted run leaves none."""
    manager = _local_kernel_manager()
    engine_options = {"kernel_manager_class": manager} if manager is not None else {}
    runs: list[NotebookRun] = []
    for notebook in tqdm(
        notebooks, desc=f"workbook ({parameters['PROFILE']})", unit="notebook", disable=not interactive
    ):
        executed = out_dir / notebook.name
        partial = out_dir / f".{notebook.stem}.running.ipynb"
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(notebook),
                str(partial),
                parameters=parameters,
                kernel_name=kernel,
                cwd=str(folder),
                progress_bar=interactive,
                **engine_options,
            )
            status, key = "ok", key_result_of(partial)
        except papermill.PapermillExecutionError as error:
            status, key = "FAILED", failure_line(error.ename, error.evalue)
        except KeyboardInterrupt:
            partial.unlink(missing_ok=True)
            kept = f"; the previous {executed} is kept" if executed.exists() else ""
            raise WorkbookInterrupted(f"interrupted while running {notebook.stem}{kept}") from None
        os.replace(partial, executed)
        runs.append(NotebookRun(notebook.stem, status, time.perf_counter() - start, key, executed))
    return runs


def failure_line(name: str, message: str) -> str:
    """The error's type and its message's last line, whole (a long message's first lines are context)."""
    lines = message.strip().splitlines()
    return f"{name}: {lines[-1]}" if lines else name


def format_summary(runs: list[NotebookRun], profile: str, out_dir: Path) -> str:
    """One line per notebook; a failed one names the executed copy that holds its traceback."""
    width = max([len(r.notebook) for r in runs] + [8])
    lines = [
        f"\nworkbook, profile {profile}: executed notebooks in {out_dir}/",
        f"{'notebook':<{width}}  status   seconds  key result",
    ]
    for r in runs:
        lines.append(f"{r.notebook:<{width}}  {r.status:<7}{r.seconds:>9.1f}  {r.key_result}")
        if r.status != "ok" and r.executed is not None:
            lines.append(f"{'':<{width}}  the full traceback is in {r.executed}")
    failed = sum(r.status != "ok" for r in runs)
    lines.append(f"{len(runs) - failed} ok, {failed} failed, {sum(r.seconds for r in runs):.0f} s in all")
    return "\n".join(lines)


def _machine() -> str:
    """The processor, its cores, torch's threads and how busy it was: what a run time depends on."""
    import torch

    from xlmeta_lab.experiments.results import processor

    cpu = processor()
    load = f", 1-minute load {os.getloadavg()[0]:.1f} at the start" if hasattr(os, "getloadavg") else ""
    where = cpu["cuda"] or cpu["model"] or "unknown processor"
    return f"{where}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads{load}"


def record_run_times(runs: list[NotebookRun], profile: str, machine: str, notebooks_dir: Path) -> Path:
    """Write the wall time of every passed run into the timing file (for this machine's kind of hardware), then
    regenerate the README's table and the notebooks' run-time paragraphs from it. A failed run records nothing:
    the time to a traceback is not a notebook's run time."""
    from datetime import UTC, datetime

    import torch

    from xlmeta_lab.teaching.runtime_docs import write_run_time_docs
    from xlmeta_lab.teaching.timings import Timing, hardware_kind, load_timings, save_timings, with_timing

    kind = hardware_kind("cuda" if torch.cuda.is_available() else "cpu")
    timings = load_timings()
    today = datetime.now(UTC).date().isoformat()
    for run in runs:
        if run.status == "ok":
            timing = Timing(
                round(run.seconds, 1), today, machine, f"`xlmeta workbook --time --profile {profile}`"
            )
            timings = with_timing(timings, run.notebook, profile, kind, timing)
    path = save_timings(timings)
    write_run_time_docs(notebooks_dir, timings)
    return path
