"""Progress bars that survive where they end up: a live notebook, a terminal, or a notebook run by papermill.

``tqdm.auto`` draws an ipywidgets bar in a notebook. In a notebook executed by papermill (``xlmeta workbook``,
CI) nobody watches it live, and the saved notebook keeps only the widget's placeholder (``HBox(children=...)``)
where a reader wanted to see how long training took. There, plain text is the right bar: the workbook sets
:data:`ENV_PLAIN` for the kernels it starts, and anyone running papermill by hand can set it too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

import tqdm.auto
import tqdm.std

#: Set (to anything) to get plain-text bars on stdout instead of notebook widgets.
ENV_PLAIN = "XLMETA_PLAIN_PROGRESS"


def progress_bar(iterable: Iterable[Any], **options: Any) -> tqdm.std.tqdm:
    """``tqdm.auto.tqdm(iterable, **options)``, or a plain-text bar on stdout when :data:`ENV_PLAIN` is set."""
    if os.environ.get(ENV_PLAIN):
        return tqdm.std.tqdm(iterable, file=sys.stdout, ascii=True, mininterval=5.0, **options)
    return tqdm.auto.tqdm(iterable, **options)
