"""xlmeta-lab: meta-learning for cross-lingual understanding, learned by doing it.

The package holds the computation; the notebooks in ``notebooks/`` explain, call and plot.
"""

from __future__ import annotations

__version__ = "0.1.0"
