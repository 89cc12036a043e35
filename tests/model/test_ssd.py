"""The chunked SSD scan against the plain recurrence it must equal."""

from __future__ import annotations

import pytest
import torch

from runtime.model.layers.ssd import segment_sums, ssd_chunk_scan, ssd_step_


def _inputs(b: int = 2, length: int = 23, h: int = 4, p: int = 3, n: int = 5) -> tuple:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, length, h, p, generator=g)
    dt = torch.rand(b, length, h, generator=g) * 0.5
    a = -torch.rand(h, generator=g) * 2
    bm, cm = torch.randn(b, length, h, n, generator=g), torch.randn(b, length, h, n, generator=g)
    state = torch.randn(b, h, p, n, generator=g)
    return x, dt, a, bm, cm, state


def _reference_step(state, x, dt, a, b_in, c_in):  # noqa: ANN001, ANN201 (test oracle)
    """The recurrence as written: h = exp(dt a) h + dt x B, y = C . h, B and C per head."""
    decay = torch.exp(dt * a)[..., None, None]  # [b, h, 1, 1]
    new_state = state * decay + (dt[..., None] * x)[..., None] * b_in[:, :, None, :]
    return torch.einsum("bhpn,bhn->bhp", new_state, c_in), new_state


def _sequential(x, dt, a, bm, cm, state):  # noqa: ANN001, ANN202 (test oracle)
    ys = []
    for t in range(x.shape[1]):
        y, state = _reference_step(state, x[:, t], dt[:, t], a, bm[:, t], cm[:, t])
        ys.append(y)
    return torch.stack(ys, 1), state


def test_chunk_scan_equals_step_by_step_recurrence() -> None:
    """For any chunk size, the chunked scan gives the recurrence's outputs and final state."""
    x, dt, a, bm, cm, state = _inputs()
    want_y, want_state = _sequential(x, dt, a, bm, cm, state)
    for chunk in (1, 4, 7, 64):
        y, final = ssd_chunk_scan(x, dt, a, bm, cm, chunk, state)
        torch.testing.assert_close(y, want_y, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(final, want_state, atol=1e-4, rtol=1e-4)


def test_zero_dt_positions_leave_the_state_unchanged() -> None:
    """Padding positions with dt = 0 after a sequence do not change its final state."""
    x, dt, a, bm, cm, state = _inputs()
    _, want = ssd_chunk_scan(x[:, :15], dt[:, :15], a, bm[:, :15], cm[:, :15], 8, state)
    padded_dt = dt.clone()
    padded_dt[:, 15:] = 0
    _, got = ssd_chunk_scan(x, padded_dt, a, bm, cm, 8, state)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_segment_sums_are_partial_sums_below_the_diagonal() -> None:
    """out[i, j] is a[j+1] + ... + a[i] on and below the diagonal and -inf above it."""
    a = torch.tensor([1.0, 2.0, 3.0, 4.0])
    out = segment_sums(a)
    assert out[3, 0] == 2.0 + 3.0 + 4.0
    assert out[2, 2] == 0.0
    assert torch.isinf(out[0, 1]) and out[0, 1] < 0


def test_group_shared_b_and_c_equal_the_per_head_repeat() -> None:
    """B and C given once per group give the scan of B and C repeated to each of the group's
    heads (the prefill path passes groups; the step passes heads)."""
    x, dt, a, _, _, state = _inputs(h=6)
    gen = torch.Generator().manual_seed(1)
    bg, cg = torch.randn(2, 23, 2, 5, generator=gen), torch.randn(2, 23, 2, 5, generator=gen)
    want = ssd_chunk_scan(x, dt, a, bg.repeat_interleave(3, 2), cg.repeat_interleave(3, 2), 8,
                          state)
    got = ssd_chunk_scan(x, dt, a, bg, cg, 8, state)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)


def test_heads_that_do_not_split_into_groups_are_refused() -> None:
    """A head count that is not a multiple of the group count raises, naming both."""
    x, dt, a, bm, cm, state = _inputs(h=4)
    with pytest.raises(ValueError, match="4 heads do not split into 3 groups"):
        ssd_chunk_scan(x, dt, a, bm[:, :, :3], cm[:, :, :3], 8, state)
def test_in_place_grouped_step_equals_step_on_repeated_groups() -> None:
    """The in-place decode step with B/C per group gives the per-head step's output and writes its
    new state into the given rows, here every other row of a pool (a strided view)."""
    g = torch.Generator().manual_seed(3)
    b, h, p, n, groups = 3, 6, 4, 5, 2
    x, dt = torch.randn(b, h, p, generator=g), torch.rand(b, h, generator=g)
    a = -torch.rand(h, generator=g)
    bg, cg = torch.randn(b, groups, n, generator=g), torch.randn(b, groups, n, generator=g)
    pool = torch.randn(2 * b, h, p, n, generator=g)
    heads = h // groups
    want_y, want_state = _reference_step(
        pool[::2].clone(), x, dt, a,
        bg.repeat_interleave(heads, dim=1), cg.repeat_interleave(heads, dim=1),
    )
    untouched = pool[1::2].clone()
    y = ssd_step_(pool[::2], x, dt, a, bg, cg)
    torch.testing.assert_close(y, want_y, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pool[::2], want_state, atol=1e-6, rtol=1e-6)
    assert torch.equal(pool[1::2], untouched)
