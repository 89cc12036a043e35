"""Splitting an extend batch into consecutive parts with bounded padding."""

from __future__ import annotations

import itertools

import torch
from hypothesis import given
from hypothesis import strategies as st

from runtime.model.batch_parts import MAX_KEY_PARTS, MAX_PADDING, key_groups, split_points
from runtime.model.forward_batch import build_batch


@given(st.lists(st.integers(1, 600), min_size=1, max_size=40))
def test_parts_cover_the_requests_in_order_with_bounded_padding(extend: list[int]) -> None:
    """The parts are consecutive, cover every request once, and each part of two or more
    requests pads to at most MAX_PADDING positions per real token."""
    parts = split_points(extend)
    assert parts[0][0] == 0 and parts[-1][1] == len(extend)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))
    for lo, hi in parts:
        lens = extend[lo:hi]
        assert hi > lo
        if len(lens) > 1:
            assert len(lens) * max(lens) <= MAX_PADDING * sum(lens)


def test_even_lengths_stay_one_part_and_a_long_and_a_short_chunk_split() -> None:
    """Equal chunks stay together; a 509-token chunk and a 3-token one run apart."""
    assert split_points([128] * 32) == [(0, 32)]
    assert split_points([509, 3]) == [(0, 1), (1, 2)]


def test_a_parts_tensors_are_its_requests_slices() -> None:
    """Each part holds its requests' tokens, rows, slots and lengths, and its token slice
    selects the same tokens from the whole batch; a decode batch is one part, itself."""
    batch = build_batch(input_ids=[[1] * 9, [2, 2], [3, 4, 5]], prefix_lens=[0, 5, 2],
                        req_rows=[7, 8, 9], out_slots={"full": [[10] * 9, [20, 21], [30, 31, 32]]},
                        mamba_slots=[1, 2, 3], device="cpu")
    parts = batch.parts()
    assert [p.req_rows.tolist() for _, p in parts] == [[7], [8, 9]]
    for tokens, part in parts:
        assert torch.equal(part.input_ids, batch.input_ids[tokens])
        assert torch.equal(part.out_slots["full"], batch.out_slots["full"][tokens])
    assert parts[1][1].prefix_list == [5, 2] and parts[1][1].extend_list == [2, 3]
    assert batch.parts() is parts  # built once per batch
    decode = build_batch(input_ids=[[1], [2]], prefix_lens=[3, 4], req_rows=[0, 1],
                         out_slots={"full": [[5], [6]]}, mamba_slots=None, device="cpu")
    assert decode.parts() == [(slice(None), decode)]


@given(st.lists(st.integers(1, 2000), min_size=1, max_size=64))
def test_key_groups_partition_the_batch_and_never_pad_more(lengths: list[int]) -> None:
    """Key groups hold every request once, at most MAX_KEY_PARTS of them, sorted by length, and
    gather no more padded key positions than the whole batch would."""
    groups = key_groups(lengths)
    if groups is None:
        return
    assert 2 <= len(groups) <= MAX_KEY_PARTS
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    padded = sum(len(g) * max(lengths[i] for i in g) for g in groups)
    assert padded < len(lengths) * max(lengths)
    tops = [max(lengths[i] for i in g) for g in groups]
    assert tops == sorted(tops)


def test_key_groups_cut_only_where_padding_is_large() -> None:
    """Equal contexts stay whole; many short contexts beside a few long ones are cut apart."""
    assert key_groups([300] * 64) is None
    groups = key_groups([40] * 48 + [700] * 16)
    assert groups is not None and sorted(map(len, groups)) == [16, 48]


def test_a_decode_batchs_key_parts_pick_its_rows() -> None:
    """A decode batch's key parts carry the rows, slots and prefixes of their requests."""
    prefixes = [40] * 48 + [700] * 16
    batch = build_batch(input_ids=[[i] for i in range(64)], prefix_lens=prefixes,
                        req_rows=list(range(100, 164)),
                        out_slots={"full": [[1000 + i] for i in range(64)]},
                        mamba_slots=None, device="cpu")
    parts = batch.key_parts(None)
    assert len(parts) == 2 and batch.key_parts(32) == [(slice(None), batch)]
    for pick, part in parts:
        assert torch.equal(part.req_rows, batch.req_rows[pick])
        assert torch.equal(part.out_slots["full"], batch.out_slots["full"][pick])
        assert part.prefix_list == [prefixes[i] for i in pick.tolist()]
