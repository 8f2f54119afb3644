"""How long each notebook takes under each profile, measured, and what ``PROFILE = "auto"`` makes of it.

A workshop breaks when a room of learners starts an hours-long run without knowing it. So ``"auto"`` does not
guess from the device: it reads the run times in ``reference/timings.json`` (one committed file, rewritten by
``xlmeta workbook --time``) and picks the largest profile whose time *measured on this kind of hardware* fits a
stated limit (10 minutes unless told otherwise). A profile never timed on the hardware at hand does not count as
fitting, an estimate is not a measurement, and ``full`` is never chosen unless the caller asks for it: when nothing
qualifies, the smallest profile runs, and the start-up line says why.

The same file feeds the README's run-time table and the run-time paragraph at the top of every notebook
(:mod:`xlmeta_lab.teaching.runtime_docs`), so the three can no longer disagree.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from xlmeta_lab.teaching.profiles import PROFILE_NAMES

#: The default limit of ``"auto"``: a notebook run a learner can wait for in a session.
DEFAULT_LIMIT_S = 600.0
#: Kinds of hardware a time is recorded for; a time on one says nothing about another.
HARDWARE_KINDS: tuple[str, ...] = ("cpu", "gpu")
#: The profile ``"auto"`` never starts by itself, however short its measured time.
ASKED_ONLY = "full"

#: notebook -> profile -> hardware kind -> its run time.
Timings = dict[str, dict[str, dict[str, "Timing"]]]


@dataclass(frozen=True)
class Timing:
    """One notebook run's wall time under one profile on one kind of hardware, and where it comes from.

    ``estimated`` marks a time added up from a run's parts rather than read off one clock; it is shown, never
    trusted by ``"auto"``. ``note`` says what the time is made of, in a learner's words.
    """

    seconds: float
    measured: str  # the date (UTC) of the run
    machine: str  # processor, cores, threads and how busy it was
    how: str  # the command, or the record it was taken from
    estimated: bool = False
    note: str = ""


def timings_path() -> Path:
    """The committed file, inside the package so a notebook on Colab reads it too."""
    return Path(str(resources.files("xlmeta_lab") / "reference" / "timings.json"))


def load_timings(path: str | os.PathLike | None = None) -> Timings:
    """Every recorded run time (an absent file records none)."""
    path = Path(path) if path is not None else timings_path()
    if not path.exists():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))["notebooks"]
    return {
        notebook: {
            profile: {kind: Timing(**entry) for kind, entry in kinds.items()}
            for profile, kinds in profiles.items()
        }
        for notebook, profiles in raw.items()
    }


def save_timings(timings: Timings, path: str | os.PathLike | None = None) -> Path:
    """Write ``timings`` (sorted, so a re-measurement shows as a small diff) and return the file."""
    path = Path(path) if path is not None else timings_path()
    payload = {
        "about": "Measured wall time of each notebook per profile and hardware kind (papermill, kernel start "
        "included). Written by `xlmeta workbook --time`; read by PROFILE = 'auto', the README and the notebooks.",
        "notebooks": {
            notebook: {
                profile: {
                    kind: asdict(timings[notebook][profile][kind])
                    for kind in sorted(timings[notebook][profile])
                }
                for profile in PROFILE_NAMES
                if profile in timings[notebook]
            }
            for notebook in sorted(timings)
        },
    }
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def with_timing(timings: Timings, notebook: str, profile: str, kind: str, timing: Timing) -> Timings:
    """A copy of ``timings`` with one entry set (replacing what was recorded there)."""
    if kind not in HARDWARE_KINDS:
        raise ValueError(f"hardware kind {kind!r}: record one of {', '.join(HARDWARE_KINDS)}")
    updated = {nb: {p: dict(kinds) for p, kinds in profiles.items()} for nb, profiles in timings.items()}
    updated.setdefault(notebook, {}).setdefault(profile, {})[kind] = timing
    return updated


def hardware_kind(device_type: str) -> str:
    """``"gpu"`` for CUDA, else the device type itself (``"cpu"``, ``"mps"``: never timed, so never fitting)."""
    return "gpu" if device_type == "cuda" else device_type


def measured(
    timings: Mapping[str, Mapping[str, Mapping[str, Timing]]], notebook: str, profile: str, kind: str
) -> Timing | None:
    """The time recorded for one (notebook, profile, hardware kind), or None."""
    return timings.get(notebook, {}).get(profile, {}).get(kind)


def format_duration(seconds: float) -> str:
    """A run time the way a person says it: ``7 s``, ``2 min``, ``3.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def describe_timing(timing: Timing) -> str:
    """``35 s``, or ``estimated 3.5 h`` for a time added up from parts."""
    return ("estimated " if timing.estimated else "") + format_duration(timing.seconds)


@dataclass(frozen=True)
class AutoChoice:
    """What ``"auto"`` chose, on which hardware, and the line that says why (printed at start-up)."""

    profile: str
    hardware: str
    limit_s: float
    estimate_s: float | None
    explanation: str


def choose_profile(
    notebook: str,
    hardware: str,
    timings: Timings | None = None,
    *,
    limit_s: float = DEFAULT_LIMIT_S,
    allow_full: bool = False,
) -> AutoChoice:
    """The largest profile whose measured time on ``hardware`` is at most ``limit_s``.

    Only measurements on the same kind of hardware count (an estimate does not); ``full`` is a candidate only with
    ``allow_full``. With no candidate fitting, the smallest profile runs and the explanation says what is (not)
    known about it, so a learner is never surprised by the length of a run.
    """
    timings = load_timings() if timings is None else timings
    candidates = [p for p in PROFILE_NAMES if allow_full or p != ASKED_ONLY]
    fitting = []
    for profile in candidates:
        timing = measured(timings, notebook, profile, hardware)
        if timing is not None and not timing.estimated and timing.seconds <= limit_s:
            fitting.append(profile)
    chosen = fitting[-1] if fitting else PROFILE_NAMES[0]
    timing = measured(timings, notebook, chosen, hardware)
    estimate = None if timing is None else timing.seconds
    where = hardware.upper()
    if chosen in fitting:
        why = f"about {format_duration(estimate)} measured on {where}, within the {format_duration(limit_s)} limit"
    elif timing is not None:
        over = "" if timing.estimated else ", over the limit"
        why = f"the smallest profile; {describe_timing(timing)} on {where}{over}"
    else:
        elsewhere = [
            f"{describe_timing(t)} on {k.upper()}"
            for k, t in timings.get(notebook, {}).get(chosen, {}).items()
        ]
        known = f" ({', '.join(elsewhere)})" if elsewhere else ""
        why = f"the smallest profile; never timed on {where}{known}"
    full = measured(timings, notebook, ASKED_ONLY, hardware)
    full_time = f"{describe_timing(full)} on {where}" if full else f"not timed on {where}"
    asked = "" if chosen == ASKED_ONLY else f'; `full` ({full_time}) runs only when asked: PROFILE = "full"'
    return AutoChoice(chosen, hardware, limit_s, estimate, f'PROFILE="auto" chose {chosen}: {why}{asked}')
