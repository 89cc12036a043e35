"""Linear weights laid out for small-batch matmuls, and several `nn.Linear`s over the same input
run as one matmul (q/k/v, gate/up).

Weights are stored column-major: an `[out, in]` weight whose transpose `[in, out]` is contiguous.
`F.linear` then multiplies by a contiguous `[in, out]` matrix, which MKL runs about 1.5x faster
than the row-major `[out, in]` one for a decode batch's 32-64 rows on this project's CPUs (the
compute roofline's GEMM timing already uses that layout); the products are the same sums.

Fused parts stay real modules, so state-dict names and shapes are the checkpoint's. Their weights
(and biases) are re-pointed to column slices of one concatenated `[in, sum(out)]` tensor: loading
a checkpoint, which copies into the parameters in place, fills the fused tensor too, and no weight
is stored twice. Anything that gives a part new storage (`module.to(...)`,
`load_state_dict(assign=True)`) must be followed by `refuse()`: `FusedOwner` does that for the
modules holding fused parts (Attention, GatedMLP).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


class FusedLinear:
    """One matmul for `parts` (same input size, all with or all without bias); not an nn.Module,
    so the parts alone are parameters and the roofline's linear count is unchanged."""

    def __init__(self, *parts: nn.Linear) -> None:
        if len({p.in_features for p in parts}) != 1 or len({p.bias is None for p in parts}) != 1:
            raise ValueError("fused linears need one input size and the same bias setting")
        self.parts = parts
        self.sizes = [p.out_features for p in parts]
        self.weight, self.bias = self._fuse()

    def _fuse(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        # NOTE: outside inference mode, so that later in-place loads into the parts are allowed.
        with torch.inference_mode(False), torch.no_grad():
            weight_t = torch.cat([p.weight.t() for p in self.parts], dim=1).contiguous()
            bias = None if self.parts[0].bias is None else torch.cat([p.bias for p in self.parts])
            start = 0
            for part, size in zip(self.parts, self.sizes, strict=True):
                part.weight.data = weight_t[:, start : start + size].t()  # [out, in] view
                if bias is not None:
                    part.bias.data = bias[start : start + size]
                start += size
        return weight_t.t(), bias

    def refuse(self) -> None:
        """Rebuilds the fused tensor from the parts' current values, device and dtype."""
        self.weight, self.bias = self._fuse()

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """[..., in] -> one [..., out_i] view per part."""
        return F.linear(x, self.weight, self.bias).split(self.sizes, dim=-1)


class FusedOwner(nn.Module):
    """A module whose `FusedLinear`s (made by `fuse`) are rebuilt whenever their parts get new
    storage: after `.to()` and the like (`_apply`) and after every state-dict load into it."""

    _fused: tuple[str, ...] = ()

    def fuse(self, name: str, *parts: nn.Linear) -> None:
        """`self.<name>` = one matmul for `parts`, kept in step with them from now on."""
        setattr(self, name, FusedLinear(*parts))
        if not self._fused:
            self.register_load_state_dict_post_hook(lambda module, _keys: module.refuse())
        self._fused = (*self._fused, name)

    def refuse(self) -> None:
        for name in self._fused:
            getattr(self, name).refuse()

    def _apply(self, fn: Callable[..., torch.Tensor], recurse: bool = True) -> FusedOwner:
        out = super()._apply(fn, recurse)
        self.refuse()  # the parts have new storage: point them into a new fused tensor
        return out


def column_major_(linear: nn.Linear) -> None:
    """Re-lays `linear.weight` out column-major in place (same values, same shape)."""
    with torch.inference_mode(False), torch.no_grad():
        linear.weight.data = linear.weight.t().contiguous().t()
