"""The run times a reader sees, written from the one timing file: the README's table and each notebook's line.

Typed by hand, the README and the notebooks' headers drifted apart (one said 20 s where the other said 46 s).
Here both are generated from :mod:`xlmeta_lab.teaching.timings`; ``xlmeta workbook --time`` rewrites them after it
re-measures, and a test fails when either differs from what this module would write.

In the README the table sits between two marker comments; in a notebook the run-time paragraph is the markdown
paragraph that starts with ``**Run time**``. Only those parts of the files are touched.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

from xlmeta_lab.teaching.profiles import PROFILE_NAMES
from xlmeta_lab.teaching.timings import (
    ASKED_ONLY,
    DEFAULT_LIMIT_S,
    HARDWARE_KINDS,
    Timing,
    Timings,
    describe_timing,
    format_duration,
)

README_BEGIN = (
    "<!-- run times: generated from xlmeta_lab/reference/timings.json by `xlmeta workbook --time` -->"
)
README_END = "<!-- end of run times -->"
PARAGRAPH_START = "**Run time**"
_WIDTH = 116  # a notebook's markdown lines, "# " included, stay within the 120 columns of its .py source


def _cell(timing: Timing | None) -> str:
    return "not measured" if timing is None else describe_timing(timing)


def readme_table(timings: Timings, notebooks: Iterable[str]) -> str:
    """The README's run-time table and, under it, where and how each time was measured."""
    columns = [(profile, kind) for kind in HARDWARE_KINDS for profile in PROFILE_NAMES]
    lines = [
        "| notebook | " + " | ".join(f"`{profile}`, {kind.upper()}" for profile, kind in columns) + " |",
        "| --- |" + " --- |" * len(columns),
    ]
    sources: dict[tuple[str, str, str], list[str]] = {}
    for notebook in notebooks:
        row = timings.get(notebook, {})
        cells = [_cell(row.get(profile, {}).get(kind)) for profile, kind in columns]
        lines.append(f"| `{notebook}` | " + " | ".join(cells) + " |")
        for profile, kind in columns:
            timing = row.get(profile, {}).get(kind)
            if timing is not None:
                sources.setdefault((timing.machine, timing.measured, timing.how), []).append(
                    f"{notebook[:2]} `{profile}`"
                )
    lines.append("")
    lines.append("Wall time with papermill, kernel start included. Where each was measured:")
    for (machine, when, how), cells in sources.items():
        lines.append(f"- {', '.join(cells)}: {machine}, {when}, by {how}")
    return "\n".join([README_BEGIN, *lines, README_END])


def notebook_paragraph(notebook: str, timings: Timings) -> str:
    """The run-time paragraph at the top of ``notebook``, one line (wrapping is the file's business)."""
    row = timings.get(notebook, {})
    parts = []
    for profile in PROFILE_NAMES:
        if not row.get(profile):
            parts.append(f"`{profile}` not measured")
        for kind, timing in sorted(row.get(profile, {}).items()):
            note = f" ({timing.note})" if timing.note else ""
            parts.append(f"`{profile}` {_cell(timing)} on {kind.upper()}{note}")
    untimed = [
        kind.upper() for kind in HARDWARE_KINDS if not any(kind in row.get(p, {}) for p in PROFILE_NAMES)
    ]
    if untimed:
        parts.append(f"not measured on a {' or '.join(untimed)}")
    limit = format_duration(DEFAULT_LIMIT_S)
    return (
        f"{PARAGRAPH_START} (wall time with papermill, recorded in `xlmeta_lab/reference/timings.json` by "
        f"`xlmeta workbook --time`; machines in the README): {'; '.join(parts) or 'not measured'}. "
        f'`PROFILE = "auto"` runs the largest profile measured on your kind of hardware to finish within {limit} '
        f'and prints its estimate; it never starts `{ASKED_ONLY}` (set `PROFILE = "{ASKED_ONLY}"` for that).'
    )


def _squash(text: str) -> str:
    return " ".join(text.split())


def readme_block(text: str, begin: str = README_BEGIN, end: str = README_END) -> str | None:
    """The generated block of a README's text between ``begin`` and ``end`` (markers included), or None."""
    match = re.search(re.escape(begin) + r".*?" + re.escape(end), text, re.S)
    return match.group(0) if match else None


def replace_readme_block(readme: Path, new: str, begin: str = README_BEGIN, end: str = README_END) -> bool:
    """Put ``new`` (markers included) where the README's generated block is; True when the file changed. A README
    without the markers is an error: a generated block must have one home."""
    text = readme.read_text(encoding="utf-8")
    old = readme_block(text, begin, end)
    if old is None:
        raise ValueError(f"{readme} has no generated block ({begin} ... {end})")
    if old == new:
        return False
    readme.write_text(text.replace(old, new), encoding="utf-8")
    return True


def _paragraph_span(lines: list[str]) -> tuple[int, int] | None:
    """The lines ``[start, end)`` of the run-time paragraph in a percent-format source: from its ``**Run time**``
    line to the blank comment line (``#``) that ends the markdown paragraph."""
    start = next((i for i, line in enumerate(lines) if line.startswith(f"# {PARAGRAPH_START}")), None)
    if start is None:
        return None
    end = start
    while end < len(lines) and lines[end].startswith("# ") and lines[end].strip() != "#":
        end += 1
    return start, end


def paragraph_in_source(source: str) -> str | None:
    """The run-time paragraph of a notebook's percent-format source, squashed to one line, or None."""
    lines = source.splitlines()
    span = _paragraph_span(lines)
    return None if span is None else _squash(" ".join(line[2:] for line in lines[span[0] : span[1]]))


def write_readme_table(readme: Path, timings: Timings, notebooks: Iterable[str]) -> bool:
    """Replace the README's run-time table (:func:`replace_readme_block`); True when the file changed."""
    return replace_readme_block(readme, readme_table(timings, notebooks))


def write_notebook_paragraph(script: Path, timings: Timings) -> bool:
    """Replace the run-time paragraph of one ``NN_name.py`` and bring its ``.ipynb`` twin in step (jupytext);
    True when the source changed."""
    lines = script.read_text(encoding="utf-8").splitlines(keepends=True)
    span = _paragraph_span(lines)
    if span is None:
        raise ValueError(f"{script} has no paragraph starting with {PARAGRAPH_START}")
    start, end = span
    wrapped = textwrap.wrap(notebook_paragraph(script.stem, timings), _WIDTH, break_on_hyphens=False)
    new = [f"# {line}\n" for line in wrapped]
    if lines[start:end] == new:
        return False
    script.write_text("".join(lines[:start] + new + lines[end:]), encoding="utf-8")
    twin = script.with_suffix(".ipynb")
    if twin.exists():
        subprocess.run(
            [sys.executable, "-m", "jupytext", "--to", "ipynb", "--update", str(script)], check=True
        )
    return True


def write_run_time_docs(notebooks_dir: Path, timings: Timings) -> list[Path]:
    """Rewrite the README's table (in the folder above ``notebooks_dir``) and every notebook's run-time paragraph
    from ``timings``; returns the files that changed."""
    scripts = sorted(notebooks_dir.glob("[0-9][0-9]_*.py"))
    readme = notebooks_dir.parent / "README.md"
    changed = [readme] if write_readme_table(readme, timings, [script.stem for script in scripts]) else []
    return changed + [script for script in scripts if write_notebook_paragraph(script, timings)]
