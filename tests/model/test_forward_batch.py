"""ForwardBatch: ragged layout, padding round trips and input validation."""

from __future__ import annotations

import pytest
import torch

from runtime.model.forward_batch import ForwardMode, arithmetic_run, build_batch


def _batch(ids: list[list[int]], prefix: list[int]):  # noqa: ANN202
    return build_batch(
        input_ids=ids,
        prefix_lens=prefix,
        req_rows=list(range(len(ids))),
        out_slots={},
        mamba_slots=None,
        device="cpu",
    )


def test_positions_continue_from_each_prefix() -> None:
    """Token positions start at each request's prefix length."""
    batch = _batch([[5, 6], [7, 8, 9]], [3, 0])
    assert batch.positions.tolist() == [3, 4, 0, 1, 2]
    assert batch.last_token_index().tolist() == [1, 4]


def test_padding_round_trip_is_identity() -> None:
    """to_padded then from_padded gives back the ragged rows."""
    batch = _batch([[1], [2, 3, 4], [5, 6]], [0, 0, 0])
    x = torch.arange(6 * 2, dtype=torch.float32).reshape(6, 2)
    assert batch.to_padded(x).shape == (3, 3, 2)
    torch.testing.assert_close(batch.from_padded(batch.to_padded(x)), x)


def test_one_token_per_request_with_prefix_is_decode() -> None:
    """A batch of single tokens after existing prefixes runs in DECODE mode."""
    assert _batch([[1], [2]], [4, 9]).mode is ForwardMode.DECODE
    assert _batch([[1], [2]], [0, 9]).mode is ForwardMode.EXTEND


def test_empty_request_is_rejected() -> None:
    """A request with no new tokens is an error, not a silent no-op."""
    with pytest.raises(ValueError, match="at least one new token"):
        _batch([[1], []], [0, 0])


def test_arithmetic_run_finds_runs_of_mamba_slots_only() -> None:
    assert arithmetic_run([5, 6, 7]) == (5, 1)
    assert arithmetic_run([2, 5, 8, 11]) == (2, 3)
    assert arithmetic_run([4]) == (4, 1)
    assert arithmetic_run([9, 2, 13]) is None
    assert arithmetic_run([7, 6, 5]) is None  # descending: no forward strided view
    assert arithmetic_run([3, 3]) is None
    assert arithmetic_run([1, 2, 4]) is None
    assert arithmetic_run([]) is None
