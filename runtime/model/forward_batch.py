"""The batch the forward pass runs on: ragged tokens plus the pool slots they live in."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import torch

from runtime.model.batch_parts import key_groups, split_points


class ForwardMode(Enum):
    """EXTEND runs new prompt tokens (whole or a chunk); DECODE runs one new token per request."""

    EXTEND = "extend"
    DECODE = "decode"


@dataclass
class ForwardBatch:
    """One step's inputs, flattened over requests ("ragged"): T tokens from B requests.

    The forward pass reads and writes memory only through these slot indices; the caller must have
    written each request's new slots into the request→token table before calling it.
    """

    mode: ForwardMode
    input_ids: torch.Tensor  # [T] int64
    req_rows: torch.Tensor  # [B] int64, rows of the request→token table
    out_slots: dict[str, torch.Tensor]  # KV pool kind -> [T] slot of each new token
    mamba_slots: torch.Tensor | None  # [B] int64, each request's working state slot
    prefix_list: list[int]  # tokens each request already has in the pools
    extend_list: list[int]  # new tokens each request brings in this step
    return_all_logits: bool = False
    # (first, step) when mamba_slots is first, first + step, ... (step >= 1): the states are then
    # a strided view of the pool, read and written in place instead of gathered and scattered.
    mamba_run: tuple[int, int] | None = None
    # Derived once in __post_init__ and shared by every layer.
    positions: torch.Tensor = field(init=False)  # [T] prefix + offset of each token
    token_req: torch.Tensor = field(init=False)  # [T] request index of each token
    token_offset: torch.Tensor = field(init=False)  # [T] index of each token within its request
    prefix_lens: torch.Tensor = field(init=False)  # [B]
    extend_lens: torch.Tensor = field(init=False)  # [B]
    _metadata: dict[object, object] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if len(self.prefix_list) != len(self.extend_list) or not self.extend_list:
            raise ValueError("a batch needs one prefix and one extend length per request (B >= 1)")
        if min(self.extend_list) < 1:
            raise ValueError("every request in a batch must bring at least one new token")
        if self.mode is ForwardMode.DECODE and max(self.extend_list) != 1:
            raise ValueError("a DECODE batch runs exactly one new token per request")
        device = self.input_ids.device
        self.extend_lens = torch.tensor(self.extend_list, dtype=torch.int64, device=device)
        self.prefix_lens = torch.tensor(self.prefix_list, dtype=torch.int64, device=device)
        num_tokens = sum(self.extend_list)
        if self.input_ids.numel() != num_tokens:
            raise ValueError(f"expected {num_tokens} input ids, got {self.input_ids.numel()}")
        batch = torch.arange(self.batch_size, device=device)
        if self.mode is ForwardMode.DECODE:  # one token per request: no ragged bookkeeping
            self.token_req, self.positions = batch, self.prefix_lens
            self.token_offset = torch.zeros_like(batch)
            return
        self.token_req = torch.repeat_interleave(batch, self.extend_lens, output_size=num_tokens)
        starts = torch.cumsum(self.extend_lens, 0) - self.extend_lens
        self.token_offset = torch.arange(num_tokens, device=device) - starts[self.token_req]
        self.positions = self.prefix_lens[self.token_req] + self.token_offset

    @property
    def batch_size(self) -> int:
        return len(self.extend_list)

    @property
    def max_extend(self) -> int:
        return max(self.extend_list)

    def memo(self, key: object, build: object) -> object:
        """Per-batch cache for metadata shared by all layers of a kind (built on first use)."""
        if key not in self._metadata:
            self._metadata[key] = build()  # type: ignore[operator]
        return self._metadata[key]

    def parts(self) -> list[tuple[slice, ForwardBatch]]:
        """The batch as consecutive runs of requests with little padding (batch_parts.py), each
        with the slice of the flat tokens it holds; [(all tokens, self)] when one part will do.
        Built once per batch, so each part's own metadata is shared by every layer too."""
        return self.memo("parts", self._split)  # type: ignore[return-value]

    def _split(self) -> list[tuple[slice, ForwardBatch]]:
        points = [] if self.mode is ForwardMode.DECODE else split_points(self.extend_list)
        if len(points) <= 1:
            return [(slice(None), self)]
        starts = list(itertools.accumulate(self.extend_list, initial=0))
        return [(slice(starts[lo], starts[hi]), self._part(lo, hi, starts)) for lo, hi in points]

    def _part(self, lo: int, hi: int, starts: list[int]) -> ForwardBatch:
        tokens = slice(starts[lo], starts[hi])
        return ForwardBatch(
            mode=self.mode,
            input_ids=self.input_ids[tokens],
            req_rows=self.req_rows[lo:hi],
            out_slots={kind: slots[tokens] for kind, slots in self.out_slots.items()},
            mamba_slots=None if self.mamba_slots is None else self.mamba_slots[lo:hi],
            prefix_list=self.prefix_list[lo:hi],
            extend_list=self.extend_list[lo:hi],
        )

    def key_parts(self, window: int | None) -> list[tuple[slice | torch.Tensor, ForwardBatch]]:
        """A decode batch as groups of requests with similar key lengths under `window`
        (batch_parts.key_groups), each with the index of its rows; [(all, self)] otherwise."""
        return self.memo(("key_parts", window), lambda: self._key_split(window))  # type: ignore[return-value]

    def _key_split(self, window: int | None) -> list[tuple[slice | torch.Tensor, ForwardBatch]]:
        groups = None
        if self.mode is ForwardMode.DECODE:
            groups = key_groups([min(p + 1, window) if window else p + 1
                                 for p in self.prefix_list])
        if groups is None:
            return [(slice(None), self)]
        device = self.input_ids.device
        picks = [torch.tensor(g, dtype=torch.int64, device=device) for g in groups]
        return [(pick, self._rows(group, pick)) for group, pick in zip(groups, picks, strict=True)]

    def _rows(self, group: list[int], pick: torch.Tensor) -> ForwardBatch:
        """The decode batch of the requests `group` (one token each, so rows are tokens)."""
        return ForwardBatch(
            mode=self.mode,
            input_ids=self.input_ids[pick],
            req_rows=self.req_rows[pick],
            out_slots={kind: slots[pick] for kind, slots in self.out_slots.items()},
            mamba_slots=None if self.mamba_slots is None else self.mamba_slots[pick],
            prefix_list=[self.prefix_list[i] for i in group],
            extend_list=[1] * len(group),
        )

    def to_padded(self, x: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        """[T, ...] ragged rows -> [B, max_extend, ...], padding after each request's tokens."""
        if self.mode is ForwardMode.DECODE:
            return x.unsqueeze(1)
        out = x.new_full((self.batch_size, self.max_extend, *x.shape[1:]), fill)
        out[self.token_req, self.token_offset] = x
        return out

    def from_padded(self, x: torch.Tensor) -> torch.Tensor:
        """[B, max_extend, ...] -> [T, ...], dropping the padding."""
        if self.mode is ForwardMode.DECODE:
            return x.squeeze(1)
        return x[self.token_req, self.token_offset]

    def last_token_index(self) -> torch.Tensor:
        """[B] flat index of each request's last new token (its next-token logits)."""
        return torch.cumsum(self.extend_lens, 0) - 1


def build_batch(
    *,
    input_ids: Sequence[Sequence[int]],
    prefix_lens: Sequence[int],
    req_rows: Sequence[int],
    out_slots: dict[str, Sequence[Sequence[int]]],
    mamba_slots: Sequence[int] | None,
    device: torch.device | str,
    return_all_logits: bool = False,
) -> ForwardBatch:
    """Builds a batch from per-request Python lists (new token ids and their slots per pool)."""
    extend = [len(ids) for ids in input_ids]
    mode = (
        ForwardMode.DECODE
        if all(n == 1 for n in extend) and min(prefix_lens) > 0
        else ForwardMode.EXTEND
    )

    def flat(rows: Sequence[Sequence[int]]) -> torch.Tensor:
        return torch.tensor([x for row in rows for x in row], dtype=torch.int64, device=device)

    def vec(values: Sequence[int]) -> torch.Tensor:
        return torch.tensor(list(values), dtype=torch.int64, device=device)

    return ForwardBatch(
        mode=mode,
        input_ids=flat(input_ids),
        req_rows=vec(req_rows),
        out_slots={kind: flat(slots) for kind, slots in out_slots.items()},
        mamba_slots=None if mamba_slots is None else vec(mamba_slots),
        mamba_run=None if mamba_slots is None else arithmetic_run(mamba_slots),
        prefix_list=list(prefix_lens),
        extend_list=extend,
        return_all_logits=return_all_logits,
    )


def arithmetic_run(slots: Sequence[int]) -> tuple[int, int] | None:
    """(first, step) when `slots` go up by one step >= 1 (checked on host lists: no device sync)."""
    if not slots:
        return None
    step = slots[1] - slots[0] if len(slots) > 1 else 1
    if step < 1 or any(b - a != step for a, b in itertools.pairwise(slots)):
        return None
    return slots[0], step
