"""Nodes of the radix prefix cache and the records its operations return."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

import torch

SWA = "swa"
_CREATED = itertools.count()  # creation order: breaks LRU ties the same way in every run


@dataclass(eq=False)
class TreeNode:
    """A run of page-aligned tokens at positions [start, start + len(key)).

    `slots` holds one slot per token for each KV component the tree keeps (`full` or `host`,
    and `swa`). An SWA tombstone keeps its other components but has given its SWA slots back
    (they are zeros). `mamba` is the state snapshot after the node's last token, if any.
    """

    key: list[int]
    slots: dict[str, torch.Tensor]
    start: int = 0
    parent: TreeNode | None = None
    children: dict[tuple[int, ...], TreeNode] = field(default_factory=dict)
    full_lock: int = 0
    # One entry per SWA lock covering this node, keyed by where that lock's window starts: a
    # split can then tell which locks still reach the upper half.
    swa_locks: Counter[int] = field(default_factory=Counter)
    swa_tombstone: bool = False
    mamba: int | None = None
    mamba_lock: int = 0
    last_access: int = 0
    created: int = field(default_factory=lambda: next(_CREATED))

    @property
    def end(self) -> int:
        return self.start + len(self.key)

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def is_locked(self, component: str) -> bool:
        return bool(self.swa_locks) if component == SWA else self.full_lock > 0


@dataclass(frozen=True)
class CacheLock:
    """What a request or session holds on the tree; unlock with the same record."""

    node: TreeNode
    swa_start: int | None  # first position of the SWA window it protects; None: no SWA lock
    mamba: bool  # whether it holds the node's mamba snapshot


@dataclass(frozen=True)
class PrefixMatch:
    """The usable cached prefix of a key: slots per KV component and the node it ends at.

    `walked` is how far the key matched before the SWA-window and mamba-snapshot rules cut it
    back: a request diverging there would find no resumable state.
    """

    slots: dict[str, torch.Tensor]
    node: TreeNode
    walked: int

    @property
    def length(self) -> int:
        return self.node.end


@dataclass(frozen=True)
class InsertResult:
    """`already` leading tokens were cached before (the caller's copies are duplicates to free);
    the tree now holds `cached` tokens of the key (the caller keeps owning the rest);
    `mamba_taken` says whether the offered snapshot went into the tree."""

    already: int
    cached: int
    node: TreeNode
    mamba_taken: bool
