"""The first code cell of every notebook: seed, device, and a line that says what is running."""

from __future__ import annotations

import os
import random
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch

from .meta.device import resolve_device
from .profiles import profile_settings


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so a CPU run repeats exactly."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def start_notebook(
    notebook: str, profile: str, seed: int, device: str = "auto"
) -> tuple[MappingProxyType, torch.device]:
    """Seed everything, pick the device and print the run's identity; returns ``(settings, device)``."""
    seed_everything(seed)
    resolved = resolve_device(device)
    settings = profile_settings(notebook, profile)
    threads = torch.get_num_threads()
    print(
        f"{notebook}: profile={profile} seed={seed} device={resolved} torch={torch.__version__} threads={threads}"
    )
    print("settings:", ", ".join(f"{k}={v}" for k, v in settings.items()))
    if os.environ.get("XLMETA_DATA"):
        print(f"data folder (XLMETA_DATA): {os.environ['XLMETA_DATA']}")
    return settings, resolved


KEY_RESULT_MARKER = "KEY RESULT:"


def report_key_result(text: str) -> None:
    """Print a notebook's headline where ``xlmeta workbook`` finds it for its summary table."""
    print(f"{KEY_RESULT_MARKER} {text}")


def results_dir() -> Path:
    """The repository's ``results/`` folder as seen from a running notebook.

    Notebooks run inside ``notebooks/`` (``jupyter lab notebooks/``, and papermill's working folder), so
    their results go one level up, next to ``results/reference/``; run elsewhere, into ``./results``.
    """
    here = Path.cwd()
    return (here.parent if here.name == "notebooks" else here) / "results"
