"""A run folder belongs to one run: it is checked before training starts, and locked while the run lives.

Training into a folder that already holds a checkpoint would silently replace a finished run, and two runs
writing one folder would each report success while only one survives. So the command line claims the folder
first: it refuses a folder with a checkpoint unless asked to ``--resume`` it or ``--overwrite`` it, refuses
``--resume`` where there is nothing to resume, finds an unusable ``--out`` before any training time is spent,
and holds a lock file naming its process. A lock left by a process that no longer exists is stale and taken
over; temporary checkpoint files left by a killed process are removed. When several processes train one run
(:mod:`xlmeta_lab.experiments.training.launch`), rank 0 alone checks and locks the folder: :func:`claimed_run_folder`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from xlmeta_lab.experiments.training.checkpoints import CHECKPOINT_NAME, load_checkpoint
from xlmeta_lab.experiments.training.launch import on_rank_zero

LOCK_NAME = ".xlmeta-run.lock"


class RunFolderError(ValueError):
    """The output folder cannot be used for this run; the message says why and the ways on."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _pid_in(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _pid_in_name(path: Path) -> int:
    try:
        return int(path.name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def check_run_folder(out: Path, *, resume: bool, overwrite: bool = False) -> None:
    """Refuse ``out`` unless this run may write it (see the module doc); remove a killed run's temporary files."""
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} is a file, not a folder; choose a folder for the run")
    checkpoint = out / CHECKPOINT_NAME
    if checkpoint.exists() and not resume and not overwrite:
        saved = load_checkpoint(checkpoint)
        raise RunFolderError(
            f"{out} already holds a checkpoint ({saved.method}, seed {saved.train_config.seed}, step "
            f"{saved.step}); continue it with --resume, train into another --out, or replace it with --overwrite"
        )
    if resume and not checkpoint.exists():
        raise RunFolderError(
            f"--resume: {out} holds no checkpoint to continue; drop --resume to start a new run"
        )
    if overwrite and not resume:
        checkpoint.unlink(missing_ok=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise RunFolderError(f"--out {out} cannot be written: {error}") from None
    for leftover in out.glob(f".{CHECKPOINT_NAME}.tmp-*"):
        if not _alive(_pid_in_name(leftover)):
            leftover.unlink(missing_ok=True)


@contextmanager
def run_lock(out: Path) -> Iterator[Path]:
    """Hold ``out``'s lock for the life of the run; refuse it while another living process holds it."""
    lock = out / LOCK_NAME
    for _ in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = _pid_in(lock)
            if holder and holder != os.getpid() and _alive(holder):
                raise RunFolderError(
                    f"{out} is in use by another run (process {holder}); wait for it to finish or use another --out"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(descriptor, "w") as handle:
            handle.write(str(os.getpid()))
        break
    else:
        raise RunFolderError(f"could not take the lock {lock}")
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)


@contextmanager
def claimed_run_folder(out: Path, *, resume: bool, overwrite: bool = False) -> Iterator[None]:
    """:func:`check_run_folder`, then :func:`run_lock` for the life of the block.

    Under several processes (one run, one folder) rank 0 alone checks and holds the lock, which names its
    process; a refusal reaches every process, so none of them starts training alone.
    """
    with ExitStack() as held:

        def claim() -> None:
            check_run_folder(out, resume=resume, overwrite=overwrite)
            held.enter_context(run_lock(out))

        on_rank_zero(claim)
        yield
