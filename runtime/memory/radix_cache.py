"""Radix prefix cache over token ids, page-aligned, with one component per pool.

Components: KV slots (`full`, or `host` under the host tier), SWA KV slots with tombstones where
the sliding window already freed them, and mamba state snapshots at nodes. Nodes own one
reference to what they hold. Locks move a node's share between `evictable` and `protected` per
component: the full lock covers the path to the root, the SWA lock only the nodes that fill the
window, the mamba lock only the node itself (resuming needs only its snapshot).

Tree shape rules: no leaf is an SWA tombstone, and with a mamba component every leaf has a
snapshot; eviction deletes parents left breaking them.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

import torch

from runtime.memory.mamba_pool import MambaPool
from runtime.memory.pool_name import PoolName
from runtime.memory.radix_evict import Evictor
from runtime.memory.radix_node import SWA, CacheLock, InsertResult, PrefixMatch, TreeNode
from runtime.memory.token_pool import TokenPool

MAMBA = "mamba"


class RadixCache:
    """Prefix tree over pools it frees only when evicting. `window` enables the SWA rules."""

    def __init__(
        self,
        kv_pools: dict[str, TokenPool],
        mamba_pool: MambaPool | None = None,
        *,
        page_size: int = 1,
        window: int | None = None,
    ) -> None:
        if any(p.page_size != page_size for p in kv_pools.values()):
            raise ValueError("every KV pool in the prefix cache needs the cache's page size")
        if (window is None) != (SWA not in kv_pools):
            raise ValueError("an SWA component needs a window, and a window needs an swa pool")
        self.kv_pools, self.mamba_pool = kv_pools, mamba_pool
        self.page_size, self.window = page_size, window
        self.kv_components = tuple(kv_pools)
        self.components = self.kv_components + ((MAMBA,) if mamba_pool is not None else ())
        self.root = TreeNode(key=[], slots={k: _empty() for k in self.kv_components}, full_lock=1)
        self._clock = itertools.count(1)
        self.evictable = dict.fromkeys(self.components, 0)
        self.num_evicted: Counter[PoolName] = Counter()  # per component, cumulative (telemetry)
        self.protected = dict.fromkeys(self.components, 0)
        self._evictor = Evictor(self)

    # -- sizes -----------------------------------------------------------------------------

    def account(self, node: TreeNode, sign: int) -> None:
        """Adds (+1) or removes (-1) a node's share of every component's sizes."""
        for component in self.kv_components:
            if component == SWA and node.swa_tombstone:
                continue
            side = self.protected if node.is_locked(component) else self.evictable
            side[component] += sign * len(node.key)
        if self.mamba_pool is not None and node.mamba is not None:
            side = self.protected if node.mamba_lock else self.evictable
            side[MAMBA] += sign

    def size_info(self, component: str) -> dict[str, int]:
        return {"evictable": self.evictable[component], "protected": self.protected[component]}

    def _aligned(self, n: int) -> int:
        return n - n % self.page_size

    def page_key(self, tokens: Sequence[int]) -> tuple[int, ...]:
        return tuple(tokens[: self.page_size])

    # -- match -----------------------------------------------------------------------------

    def match_prefix(self, tokens: Sequence[int]) -> PrefixMatch:
        """The longest cached prefix a request can resume from: page-aligned, ending on a full
        SWA window of live tokens (or tombstone-free to the root) and, with a mamba component,
        at the deepest node holding a snapshot. Splits the node where the key stops matching."""
        rest = list(tokens[: self._aligned(len(tokens))])
        node, path, now = self.root, [self.root], next(self._clock)
        while rest and (child := node.children.get(self.page_key(rest))):
            n = self._common(child.key, rest)
            if n < len(child.key):
                child = self._split(child, n)
            path.append(child)
            node, rest = child, rest[n:]
        walked = node.end
        while not self._resumable(node):
            node = node.parent  # type: ignore[assignment]  # root is always resumable
        for hit in path[1 : path.index(node) + 1]:
            hit.last_access = now
        return PrefixMatch(slots=self.path_slots(node), node=node, walked=walked)

    def _resumable(self, node: TreeNode) -> bool:
        if node is self.root:
            return True
        if self.mamba_pool is not None and node.mamba is None:
            return False
        return self.window is None or self._window_is_live(node)

    def _window_is_live(self, node: TreeNode | None) -> bool:
        live = 0
        while node is not None and node is not self.root:
            if node.swa_tombstone:
                return False
            live += len(node.key)
            if live >= self.window:  # type: ignore[operator]
                return True
            node = node.parent
        return True

    def path_slots(self, node: TreeNode) -> dict[str, torch.Tensor]:
        parts: list[TreeNode] = []
        while node is not self.root:
            parts.append(node)
            node = node.parent  # type: ignore[assignment]
        return {k: torch.cat([self.root.slots[k], *(p.slots[k] for p in reversed(parts))])
                for k in self.kv_components}

    # -- insert ----------------------------------------------------------------------------

    def insert(
        self,
        tokens: Sequence[int],
        slots: dict[str, torch.Tensor],
        *,
        swa_evicted: int = 0,
        mamba: int | None = None,
    ) -> InsertResult:
        """Caches the page-aligned part of a request's key. Positions below `swa_evicted` have
        no SWA slots any more and become tombstones. `mamba` is the snapshot after the whole
        aligned key; the tree takes it unless the end node already has one. New nodes are not
        created when they would break the tree-shape rules (a tombstone or stateless leaf)."""
        length = self._aligned(len(tokens))
        key = list(tokens[:length])
        node, done, now = self.root, 0, next(self._clock)
        while done < length and (child := node.children.get(self.page_key(key[done:]))):
            n = self._common(child.key, key[done:])
            if n < len(child.key):
                child = self._split(child, n)
            child.last_access = now
            node, done = child, done + n
        already = done
        if done < length and self._may_grow(length, swa_evicted, mamba):
            node = self._grow(node, key, slots, done, swa_evicted, now)
            done = length
        taken = False
        if done == length and mamba is not None and node is not self.root and node.mamba is None:
            self.account(node, -1)
            node.mamba = mamba
            self.account(node, +1)
            taken = True
        return InsertResult(already=already, cached=done, node=node, mamba_taken=taken)

    def _may_grow(self, length: int, swa_evicted: int, mamba: int | None) -> bool:
        if self.mamba_pool is not None and mamba is None:
            return False
        return self.window is None or self._aligned(swa_evicted) < length

    def _grow(
        self,
        node: TreeNode,
        key: list[int],
        slots: dict[str, torch.Tensor],
        done: int,
        swa_evicted: int,
        now: int,
    ) -> TreeNode:
        """Appends key[done:] under `node`: a tombstone part up to `swa_evicted`, then live."""
        cut = max(done, self._aligned(swa_evicted)) if self.window is not None else done
        for lo, hi, tomb in ((done, cut, True), (cut, len(key), False)):
            if lo == hi:
                continue
            part = {k: slots[k][lo:hi] for k in self.kv_components}
            if tomb:
                part[SWA] = torch.zeros_like(part[SWA])
            child = TreeNode(key=key[lo:hi], slots=part, start=lo, parent=node,
                             swa_tombstone=tomb, last_access=now)
            node.children[self.page_key(child.key)] = child
            self.account(child, +1)
            node = child
        return node

    def _common(self, key: list[int], tokens: list[int]) -> int:
        """Page-aligned length of the common prefix."""
        n, limit = 0, min(len(key), len(tokens))
        while n < limit and key[n : n + self.page_size] == tokens[n : n + self.page_size]:
            n += self.page_size
        return min(n, limit)

    def _split(self, child: TreeNode, n: int) -> TreeNode:
        """Cuts `child` after n tokens; returns the new upper node. The snapshot stays below."""
        parent = child.parent
        assert parent is not None
        self.account(child, -1)
        upper = TreeNode(
            key=child.key[:n], slots={k: s[:n] for k, s in child.slots.items()},
            start=child.start, parent=parent, full_lock=child.full_lock,
            swa_tombstone=child.swa_tombstone, last_access=child.last_access,
        )
        upper.swa_locks.update({s: c for s, c in child.swa_locks.items() if s < upper.end})
        child.key, child.start = child.key[n:], child.start + n
        child.slots = {k: s[n:] for k, s in child.slots.items()}
        child.parent = upper
        upper.children[self.page_key(child.key)] = child
        parent.children[self.page_key(upper.key)] = upper
        self.account(upper, +1)
        self.account(child, +1)
        return upper

    # -- locks -----------------------------------------------------------------------------

    def lock(self, node: TreeNode) -> CacheLock:
        """Protects what resuming from `node` needs; returns the record to unlock with."""
        swa_start = None if self.window is None else node.end - self.window
        handle = CacheLock(node=node, swa_start=swa_start, mamba=node.mamba is not None)
        self._lock(handle, +1)
        return handle

    def unlock(self, handle: CacheLock) -> None:
        self._lock(handle, -1)

    def _lock(self, handle: CacheLock, sign: int) -> None:
        node = handle.node
        if handle.mamba and node is not self.root:
            self.account(node, -1)
            node.mamba_lock += sign
            self.account(node, +1)
        while node is not self.root:
            if node.full_lock + sign < 0:
                raise RuntimeError("unlocking a prefix-cache node that is not locked")
            in_window = handle.swa_start is not None and node.end > handle.swa_start
            self.account(node, -1)
            _bump(node, sign, handle.swa_start if in_window else None)
            self.account(node, +1)
            node = node.parent  # type: ignore[assignment]

    # -- walks -----------------------------------------------------------------------------

    def evict(self, component: str, num: int) -> int:
        """Frees unlocked holdings of `component` (tokens, or mamba states), least recently used
        first, until `num` are back in their pool or none is left; returns how many."""
        return self._evictor.evict(component, num)

    def nodes(self) -> list[TreeNode]:
        stack, out = [self.root], []
        while stack:
            node = stack.pop()
            stack.extend(node.children.values())
            if node is not self.root:
                out.append(node)
        return out

    def audit(self) -> dict[str, dict[str, int]]:
        """Sizes recounted by walking the tree: tests compare them with the running counters."""
        saved = dict(self.evictable), dict(self.protected)
        self.evictable = dict.fromkeys(self.components, 0)
        self.protected = dict.fromkeys(self.components, 0)
        for node in self.nodes():
            self.account(node, +1)
        recount = {"evictable": self.evictable, "protected": self.protected}
        self.evictable, self.protected = saved
        return recount


def _bump(node: TreeNode, sign: int, swa_start: int | None) -> None:
    node.full_lock += sign
    if swa_start is not None:
        node.swa_locks[swa_start] += sign
        if node.swa_locks[swa_start] <= 0:
            del node.swa_locks[swa_start]


def _empty() -> torch.Tensor:
    return torch.empty(0, dtype=torch.int64)
