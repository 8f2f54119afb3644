"""Whether this PyTorch build runs bfloat16 autocast on the CPU, for the tests of the ``bf16`` option."""

from __future__ import annotations

import pytest
import torch


def _cpu_bf16_autocast() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    except RuntimeError:
        return False


needs_cpu_bf16 = pytest.mark.skipif(not _cpu_bf16_autocast(), reason="no bfloat16 autocast on this CPU build")
