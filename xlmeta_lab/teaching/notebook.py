"""The first code cell of every notebook: seed, device, and a line that says what is running."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from xlmeta_lab.meta import resolve_device
from xlmeta_lab.teaching.profiles import PROFILE_NAMES, profile_settings
from xlmeta_lab.teaching.timings import (
    DEFAULT_LIMIT_S,
    AutoChoice,
    choose_profile,
    describe_timing,
    hardware_kind,
    load_timings,
    measured,
)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so a CPU run repeats exactly."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


#: The parameters cell's default: the largest profile measured to fit the time at hand on this hardware.
AUTO_PROFILE = "auto"


def check_parameters(notebook: str, profile: object, seed: object, device: object) -> None:
    """Refuse a parameters cell whose values cannot work, one message per parameter."""
    if profile != AUTO_PROFILE and profile not in PROFILE_NAMES:
        choices = ", ".join((AUTO_PROFILE, *PROFILE_NAMES))
        raise ValueError(f"PROFILE={profile!r} is not a profile of {notebook}; choose one of {choices}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"SEED={seed!r} must be a whole number >= 0 (e.g. SEED = 0)")
    if not isinstance(device, str) or device.split(":")[0] not in ("auto", "cpu", "cuda", "mps"):
        raise ValueError(f"DEVICE={device!r} must be 'auto', 'cpu', 'cuda' (or 'cuda:N') or 'mps'")


def resolve_profile(
    notebook: str, profile: str, device: torch.device, *, limit_s: float = DEFAULT_LIMIT_S
) -> AutoChoice:
    """The profile to run and why: a named profile as asked, ``"auto"`` by the run times measured on this kind of
    hardware (:func:`xlmeta_lab.teaching.timings.choose_profile`: never ``full``, never a profile untimed here)."""
    kind = hardware_kind(device.type)
    if profile != AUTO_PROFILE:
        timing = measured(load_timings(), notebook, profile, kind)
        estimate = None if timing is None else timing.seconds
        where = kind.upper()
        known = f"{describe_timing(timing)} on {where}" if timing else f"not timed on {where}"
        return AutoChoice(profile, kind, limit_s, estimate, f"PROFILE={profile!r} as asked: {known}")
    return choose_profile(notebook, kind, limit_s=limit_s)


def start_notebook(
    notebook: str, profile: str, seed: int, device: str = "auto"
) -> tuple[str, MappingProxyType, torch.device]:
    """Check the parameters cell, seed everything, pick the device and the profile, print the run's identity;
    returns ``(profile, settings, device)`` with ``profile`` resolved (``"auto"``: see :func:`resolve_profile`),
    and prints the run time measured for it on this hardware. A bad parameter (e.g. ``papermill -p SEED notanint``) is refused here, naming the parameter and
    what it accepts, rather than failing deep inside numpy or torch."""
    check_parameters(notebook, profile, seed, device)
    seed_everything(seed)
    resolved = resolve_device(device)
    choice = resolve_profile(notebook, profile, resolved)
    chosen = choice.profile
    settings = profile_settings(notebook, chosen)
    threads = torch.get_num_threads()
    print(
        f"{notebook}: profile={chosen} seed={seed} device={resolved} torch={torch.__version__} threads={threads}"
    )
    print(choice.explanation)
    print("settings:", ", ".join(f"{k}={v}" for k, v in settings.items()))
    if os.environ.get("XLMETA_DATA"):
        print(f"data folder (XLMETA_DATA): {os.environ['XLMETA_DATA']}")
    if os.environ.get(ENV_OUTPUT):
        print(f"results and checkpoints folder ({ENV_OUTPUT}): {os.environ[ENV_OUTPUT]}")
    return chosen, settings, resolved


KEY_RESULT_MARKER = "KEY RESULT:"


def report_key_result(text: str) -> None:
    """Print a notebook's headline where ``xlmeta workbook`` finds it for its summary table."""
    print(f"{KEY_RESULT_MARKER} {text}")


def key_result_in(notebook: Mapping[str, Any]) -> str:
    """The last headline an executed notebook (an ``nbformat`` node) printed with :func:`report_key_result`,
    or '' when it printed none."""
    found = ""
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith(KEY_RESULT_MARKER):
                    found = line[len(KEY_RESULT_MARKER) :].strip()
    return found


#: Where notebooks write ``results/`` and ``checkpoints/`` instead of the repository, when set.
ENV_OUTPUT = "XLMETA_OUTPUT"


def repository_dir() -> Path:
    """The checkout a notebook runs from.

    Notebooks run inside ``notebooks/`` (``jupyter lab notebooks/``, and papermill's working folder), so
    the repository is one level up, and two from the committed student copies in ``notebooks/student/``; run
    elsewhere, it is the working folder.
    """
    here = Path.cwd()
    if here.name == "student" and here.parent.name == "notebooks":
        return here.parent.parent
    return here.parent if here.name == "notebooks" else here


def output_dir() -> Path:
    """Where a notebook writes ``results/`` and ``checkpoints/``: ``$XLMETA_OUTPUT``, else the repository.

    The tests point it at a temporary folder, so that running them neither resumes a developer's
    checkpoints (which would skip the very training a test means to run) nor overwrites their results.
    """
    return Path(os.environ[ENV_OUTPUT]) if os.environ.get(ENV_OUTPUT) else repository_dir()


def results_dir() -> Path:
    """The ``results/`` folder a notebook writes to (see :func:`output_dir`)."""
    return output_dir() / "results"


def checkpoints_dir() -> Path:
    """The ``checkpoints/`` folder (git-ignored) a notebook's training runs save to and resume from."""
    return output_dir() / "checkpoints"


def reference_dir() -> Path:
    """The committed reference results (``results/reference/`` links to them), shipped inside the package so a
    notebook on Colab, or a student copy run from any folder, shows them too."""
    return Path(str(resources.files("xlmeta_lab") / "reference"))
