"""A readable copy of the workbook for a browser: the executed notebooks as web pages, with an index page.

For self-study without installing anything: ``xlmeta workbook`` executes the notebooks into ``build/``, then
``xlmeta workbook --html site/`` renders each executed copy with nbconvert (figures embedded in the page, so the
folder can be copied or served as it is) and writes ``index.html``, which lists the notebooks in order with their
title and the key result each one printed.
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat

from xlmeta_lab.teaching.notebook import key_result_in

INDEX = "index.html"


def title_of(notebook: nbformat.NotebookNode, fallback: str) -> str:
    """The notebook's first markdown heading, without its ``#``s (``fallback`` when it has none)."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return fallback


def render_notebook(notebook: nbformat.NotebookNode) -> str:
    """One executed notebook as a self-contained web page (nbconvert's lab template, figures inline)."""
    from nbconvert import HTMLExporter  # imported here: slow to import, and only this command needs it

    body, _ = HTMLExporter().from_notebook_node(notebook)
    return body


def index_page(entries: list[tuple[str, str, str]]) -> str:
    """The index: one row per (page, title, key result), in the workbook's order."""
    rows = "\n".join(
        f'<li><a href="{html.escape(page)}">{html.escape(title)}</a>'
        + (f"<br><small>key result: {html.escape(key)}</small>" if key else "")
        + "</li>"
        for page, title, key in entries
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>xlmeta-lab workbook</title></head>\n'
        "<body>\n<h1>xlmeta-lab: meta-learning for cross-lingual understanding</h1>\n"
        "<p>The workbook's notebooks, executed, to read in order. Each page shows the code, its output and its "
        "figures as they came out of the run.</p>\n"
        f"<ol>\n{rows}\n</ol>\n</body>\n</html>\n"
    )


def write_site(executed_dir: Path, site_dir: Path) -> Path:
    """Render every executed notebook of ``executed_dir`` into ``site_dir`` and return the index page."""
    executed = sorted(executed_dir.glob("[0-9][0-9]_*.ipynb"))
    if not executed:
        raise FileNotFoundError(
            f"no executed notebooks in {executed_dir}: run `xlmeta workbook --out {executed_dir}` first"
        )
    site_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        page = f"{path.stem}.html"
        (site_dir / page).write_text(render_notebook(notebook), encoding="utf-8")
        entries.append((page, title_of(notebook, path.stem), key_result_in(notebook)))
    index = site_dir / INDEX
    index.write_text(index_page(entries), encoding="utf-8")
    return index
