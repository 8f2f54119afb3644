"""Quick and full settings for every notebook, in one place.

Each notebook has a single ``parameters`` cell (``PROFILE``, ``SEED``, ``DEVICE``). Papermill injects its
values *after* that cell, so every number derived from the profile is looked up here, in the next cell,
and never goes stale. ``quick`` proves the code path on 2 CPU cores in about two minutes; ``full`` gives
the real numbers on a GPU or Colab.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "01_maml_derivation": {
        "quick": {"n_seeds": 3, "hidden": 8, "alphas": [0.0, 0.05, 0.1, 0.2, 0.4], "n_tasks": 4},
        "full": {"n_seeds": 10, "hidden": 16, "alphas": [0.0, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.6], "n_tasks": 8},
    },
}


def profile_settings(notebook: str, profile: str) -> MappingProxyType:
    """The settings of ``notebook`` under ``profile``, read-only so a cell cannot change them by accident."""
    if notebook not in PROFILES:
        raise KeyError(f"no profiles for notebook {notebook!r}; known: {', '.join(sorted(PROFILES))}")
    choices = PROFILES[notebook]
    if profile not in choices:
        raise ValueError(f"unknown profile {profile!r} for {notebook}; choose one of {', '.join(choices)}")
    return MappingProxyType(dict(choices[profile]))
