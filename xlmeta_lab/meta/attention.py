"""Second-order MAML through attention needs an attention kernel with a double backward.

PyTorch's fused scaled-dot-product kernels have no derivative of their backward pass, so MAML's
``create_graph=True`` inner step fails deep inside autograd with
``derivative for aten::_scaled_dot_product_flash_attention_for_cpu_backward is not implemented``.
Hugging Face models can switch to the plain ("eager") attention written in ordinary tensor ops,
which autograd differentiates twice. This module does that switch, and turns the obscure error
into one that says what to do when the switch is impossible.
"""

from __future__ import annotations

import warnings

from torch import nn

DOUBLE_BACKWARD_HINT = (
    "second-order MAML differentiates the inner gradient again, and fused attention kernels "
    "(SDPA / flash attention) have no double backward. Load the model with "
    "attn_implementation='eager' (e.g. AutoModel.from_pretrained(path, attn_implementation='eager')), "
    "or use method='fomaml' / 'reptile', which need no second derivative."
)


def attention_implementation(model: nn.Module) -> str | None:
    """The attention kernel a Hugging Face model uses, or ``None`` for other models."""
    config = getattr(model, "config", None)
    return getattr(config, "_attn_implementation", None) if config is not None else None


def ensure_double_backward_attention(model: nn.Module) -> None:
    """Switch a Hugging Face model (or one wrapping it) to eager attention, once, with a warning."""
    for module in model.modules():  # submodules often share their parent's config: re-read it each time
        previous = attention_implementation(module)
        if previous in (None, "eager"):
            continue
        setter = getattr(module, "set_attn_implementation", None)
        if setter is None:
            raise RuntimeError(f"{type(module).__name__} uses {previous!r} attention: {DOUBLE_BACKWARD_HINT}")
        setter("eager")
        warnings.warn(
            f"{type(module).__name__}: switched attention from {previous!r} to 'eager' for second-order MAML "
            "(fused attention kernels have no double backward).",
            stacklevel=3,
        )


def is_missing_double_backward(error: BaseException) -> bool:
    """True for autograd's 'derivative for <op>_backward is not implemented' error."""
    text = str(error)
    return "derivative for" in text and "not implemented" in text
