"""Whether this machine can run ``torch.compile`` on the CPU, for tests that need it to really compile."""

from __future__ import annotations

import os
import shutil

import pytest

# Inductor generates C++ for the CPU; without a compiler the engine falls back to eager (tested on its own).
needs_cxx = pytest.mark.skipif(
    not any(shutil.which(c) for c in (os.environ.get("CXX") or "g++", "c++", "clang++")),
    reason="torch.compile on the CPU needs a C++ compiler",
)


def make_torch_compile_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every function the engine compiles from now on raises as a machine without a compiler would."""
    from xlmeta_lab.meta import compiled

    def failing_compile(fn):
        def run(*args, **kwargs):
            raise RuntimeError("no C++ compiler found")

        return run

    monkeypatch.setattr(compiled, "_COMPILED", {})
    monkeypatch.setattr(compiled.torch, "compile", failing_compile)
