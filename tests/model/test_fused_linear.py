"""Fused projections: one matmul over parts that stay checkpoint-named views of its weight."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from runtime.model.layers.fused_linear import FusedOwner, column_major_
from runtime.model.loader import load_model


class _Pair(FusedOwner):
    """Two projections of one input, fused the way Attention and GatedMLP fuse theirs."""

    def __init__(self, bias: bool) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(8, 5, bias=bias), nn.Linear(8, 3, bias=bias)
        self.fuse("ab", self.a, self.b)


def _assert_fused_matches_parts(pair: _Pair) -> None:
    x = torch.randn(4, 8, dtype=pair.a.weight.dtype)
    for got, part in zip(pair.ab(x), (pair.a, pair.b), strict=True):
        torch.testing.assert_close(got, F.linear(x, part.weight, part.bias), rtol=1e-5, atol=1e-5)
    fused_ptr = pair.ab.weight.untyped_storage().data_ptr()
    assert pair.a.weight.untyped_storage().data_ptr() == fused_ptr  # no second copy
    assert pair.b.weight.untyped_storage().data_ptr() == fused_ptr


def test_fused_output_is_each_part_and_weights_are_stored_once() -> None:
    """The fused matmul gives each part's own output, with and without bias, from one weight."""
    for bias in (True, False):
        _assert_fused_matches_parts(_Pair(bias))


def test_state_dict_load_in_place_or_assigned_reaches_the_fused_weight() -> None:
    """Loading a state dict (copied in place, or assigned) changes what the fused matmul uses,
    and the state dict keeps the parts' own names and shapes."""
    for assign in (False, True):
        pair = _Pair(bias=True)
        new = {k: torch.randn_like(v) for k, v in pair.state_dict().items()}
        assert set(new) == {"a.weight", "a.bias", "b.weight", "b.bias"}
        pair.load_state_dict(new, assign=assign)
        torch.testing.assert_close(pair.state_dict()["b.weight"], new["b.weight"])
        _assert_fused_matches_parts(pair)


def test_dtype_cast_rebuilds_the_fused_weight() -> None:
    """After `.to(float64)` the fused weight is float64 and the parts are views of it again."""
    pair = _Pair(bias=True).to(torch.float64)
    assert pair.ab.weight.dtype == torch.float64
    _assert_fused_matches_parts(pair)


def test_column_major_keeps_values_and_shape() -> None:
    """Re-laying a weight out column-major keeps its values and shape; its transpose is dense."""
    linear = nn.Linear(6, 4)
    before = linear.weight.detach().clone()
    column_major_(linear)
    assert linear.weight.shape == (4, 6) and linear.weight.t().is_contiguous()
    assert torch.equal(linear.weight, before)


def test_loaded_model_has_column_major_linears_and_a_row_major_tied_head(gemma3_dir: Path) -> None:
    """Every linear of a loaded model is column-major except the head tied to the embedding."""
    model = load_model(gemma3_dir).model
    head = model.lm_head.weight
    assert head is model.input_embeddings().weight and head.is_contiguous()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear) and m is not model.lm_head]
    assert linears and all(m.weight.stride(0) == 1 for m in linears)  # [out, in] by columns
