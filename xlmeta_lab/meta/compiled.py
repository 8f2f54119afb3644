"""``torch.compile`` for the batched meta-step, opt in, with a way back to eager.

Under ``torch.func.vmap`` and ``torch.func.grad`` every operation passes through functorch's
transform layers. For a small network (the 1-40-40-1 sine MLP) that per-operation overhead, not
arithmetic, is most of the time of a meta-step. ``torch.compile`` traces the whole batched inner loop
and query loss once and runs it as a few generated kernels, which removes that overhead; the price is
a compilation of tens of seconds on the first call (``xlmeta bench`` prints both, and after how many
meta-steps compiling pays for itself). So it is worth it for long training runs of small models, and
it is off by default.

A model that cannot be compiled (an operator with no rule, no C++ compiler on the machine) is run
eagerly instead, with one warning, and not tried again in this session.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import nn

from xlmeta_lab.meta.inner import InnerLoop

T = TypeVar("T")

_COMPILED: dict[Callable[..., Any], Callable[..., Any]] = {}
_COMPILE_FAILED: weakref.WeakSet[nn.Module] = weakref.WeakSet()


def run_maybe_compiled(fn: Callable[..., T], inner: InnerLoop, compile: bool, *args: Any) -> T:
    """``fn(inner, *args)``, through ``torch.compile`` when asked and when ``inner.model`` has not failed
    before.

    ``fn`` is a module-level function, so one compiled wrapper serves every call. Its arguments are the
    frozen inner-loop settings, flags and tensors, which Dynamo guards on by value and shape: the next
    meta-step with the same settings and equally shaped tasks reuses the compiled code, although each
    step builds a new settings object; another model or setting triggers a recompilation, not a new wrapper.
    """
    model = inner.model
    if not compile or model in _COMPILE_FAILED:
        return fn(inner, *args)
    if fn not in _COMPILED:  # wrapping is not free (it copies the compiler's configuration): do it once
        _COMPILED[fn] = torch.compile(fn)
    compiled = _COMPILED[fn]
    try:
        return compiled(inner, *args)
    except Exception as error:  # noqa: BLE001 - any compiler failure falls back to the eager path
        _COMPILE_FAILED.add(model)
        first_line = (str(error).strip().splitlines() or [""])[0][:160]
        warnings.warn(
            f"torch.compile could not run {type(model).__name__} ({type(error).__name__}: {first_line}); "
            "running it eagerly from now on.",
            stacklevel=3,
        )
        return fn(inner, *args)


def compile_failed(model: nn.Module) -> bool:
    """Whether ``model`` fell back to eager after ``torch.compile`` failed on it in this session."""
    return model in _COMPILE_FAILED
