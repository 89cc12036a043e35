"""Dtype casts that are no op at all when the tensor already has the dtype: norms, rotary, the
attention read and the mamba step run per layer and per decode step, where even a no-op `.to()`
is one more dispatch."""

from __future__ import annotations

import torch


def fp32(t: torch.Tensor) -> torch.Tensor:
    return t if t.dtype == torch.float32 else t.float()


def cast(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return t if t.dtype == dtype else t.to(dtype)
