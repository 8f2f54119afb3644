"""The first code cell of every notebook: seed, device, and a line that says what is running."""

from __future__ import annotations

import os
import random
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch

from xlmeta_lab.meta import resolve_device
from xlmeta_lab.teaching.profiles import PROFILE_NAMES, profile_settings


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so a CPU run repeats exactly."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


#: The parameters cell's default: the real numbers where there is a GPU, a minutes-long run where there is not.
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


def resolve_profile(profile: str, device: torch.device) -> str:
    """``"auto"`` is ``full`` on a GPU (minutes there) and ``quick`` on a CPU (``full`` takes up to hours)."""
    if profile != AUTO_PROFILE:
        return profile
    return "full" if device.type == "cuda" else "quick"


def start_notebook(
    notebook: str, profile: str, seed: int, device: str = "auto"
) -> tuple[str, MappingProxyType, torch.device]:
    """Check the parameters cell, seed everything, pick the device and the profile, print the run's identity;
    returns ``(profile, settings, device)`` with ``profile`` resolved (``"auto"`` becomes ``quick`` or
    ``full``). A bad parameter (e.g. ``papermill -p SEED notanint``) is refused here, naming the parameter and
    what it accepts, rather than failing deep inside numpy or torch."""
    check_parameters(notebook, profile, seed, device)
    seed_everything(seed)
    resolved = resolve_device(device)
    chosen = resolve_profile(profile, resolved)
    settings = profile_settings(notebook, chosen)
    threads = torch.get_num_threads()
    why = f' (PROFILE="auto" on {resolved.type.upper()})' if profile == AUTO_PROFILE else ""
    print(
        f"{notebook}: profile={chosen}{why} seed={seed} device={resolved} torch={torch.__version__} "
        f"threads={threads}"
    )
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


#: Where notebooks write ``results/`` and ``checkpoints/`` instead of the repository, when set.
ENV_OUTPUT = "XLMETA_OUTPUT"


def repository_dir() -> Path:
    """The checkout a notebook runs from.

    Notebooks run inside ``notebooks/`` (``jupyter lab notebooks/``, and papermill's working folder), so
    the repository is one level up; run elsewhere, it is the working folder.
    """
    here = Path.cwd()
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
