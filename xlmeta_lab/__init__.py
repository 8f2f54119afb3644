"""xlmeta-lab: meta-learning for cross-lingual understanding, learned by doing it.

The package holds the computation; the notebooks in ``notebooks/`` explain, call and plot.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_tagger"]


def __getattr__(name: str) -> object:
    """``from xlmeta_lab import load_tagger`` (PEP 562): torch is imported when the tagger is asked for, so the
    command line starts without it."""
    if name == "load_tagger":
        from xlmeta_lab.experiments.deployment.adapted_tagger import load_tagger

        return load_tagger
    raise AttributeError(f"module 'xlmeta_lab' has no attribute {name!r}")
