"""The mamba and request pools: reserved slot 0, zeroed state on allocation, forks copy."""

from __future__ import annotations

import pytest
import torch

from runtime.memory.mamba_buffer import MambaBuffer
from runtime.memory.mamba_pool import MambaPool
from runtime.memory.req_pool import ReqPool
from runtime.memory.req_to_token import ReqToTokenTable


def _mamba_pool(slots: int = 4) -> MambaPool:
    buffer = MambaBuffer.allocate(
        num_layers=2, num_slots=slots, conv_dim=3, conv_kernel=4, num_heads=2, head_dim=2,
        state_size=2, dtype=torch.float32, device="cpu",
    )
    return MambaPool.over(buffer)


def test_allocated_mamba_slots_start_from_zero_state() -> None:
    """A slot reused after a free holds zeros, not the previous request's state."""
    pool = _mamba_pool()
    (slot,) = pool.allocate(1)
    pool.buffer.ssm[:, slot].fill_(3.0)
    pool.free([slot])
    (again,) = pool.allocate(1)
    assert again == slot and pool.buffer.ssm[:, again].abs().sum() == 0


def test_fork_copies_state_into_a_new_slot() -> None:
    """fork gives a different slot with identical conv and SSM state."""
    pool = _mamba_pool()
    (src,) = pool.allocate(1)
    pool.buffer.conv[:, src].normal_()
    dst = pool.fork(src)
    assert dst != src and torch.equal(pool.buffer.conv[:, dst], pool.buffer.conv[:, src])
    assert pool.num_free_slots == pool.capacity - 2


def test_request_rows_are_cleared_on_allocation() -> None:
    """A reused request row reads slot 0 everywhere, never a previous request's slots."""
    table = ReqToTokenTable.allocate(pools=("full",), num_rows=3, max_context=8, device="cpu")
    pool = ReqPool(table)
    row = pool.allocate()
    table.write("full", row, 0, torch.tensor([5, 6]))
    pool.free(row)
    assert pool.allocate() == row and table.tables["full"][row].sum() == 0
    with pytest.raises(ValueError, match="reserved"):
        pool.free(0)


def test_pool_sizes_exclude_the_reserved_slot() -> None:
    """Capacity and available count only usable slots, for both small pools."""
    table = ReqToTokenTable.allocate(pools=("full",), num_rows=5, max_context=8, device="cpu")
    req, mamba = ReqPool(table), _mamba_pool(slots=4)
    req.allocate()
    assert req.size_info() == {"capacity": 4, "available": 3}
    assert mamba.size_info() == {"capacity": 3, "available": 3} and mamba.can_allocate(3)
