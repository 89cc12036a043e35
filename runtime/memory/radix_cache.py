"""Radix prefix cache over token ids, page-aligned, holding full-attention KV slots.

Nodes own one reference to their slots. Locking a node (a request or session resuming from it)
moves its path from `evictable` to `protected`; only unlocked leaves are evicted, least recently
used first. The SWA and mamba components build on this tree (later steps of the memory issue).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from runtime.memory.token_pool import TokenPool


@dataclass(eq=False)
class TreeNode:
    """A run of page-aligned tokens and the slots holding their KV."""

    key: list[int]
    slots: torch.Tensor  # [len(key)] int64
    parent: TreeNode | None = None
    children: dict[tuple[int, ...], TreeNode] = field(default_factory=dict)
    lock_ref: int = 0
    last_access: int = 0

    @property
    def is_leaf(self) -> bool:
        return not self.children


@dataclass(frozen=True)
class PrefixMatch:
    """The cached prefix of a key: its slots and the deepest node reached (lock that one)."""

    slots: torch.Tensor
    node: TreeNode

    @property
    def length(self) -> int:
        return self.slots.numel()


class RadixCache:
    """Prefix tree whose KV slots come from `pool`. Mutates the pool only when evicting."""

    def __init__(self, pool: TokenPool) -> None:
        self.pool, self.page_size = pool, pool.page_size
        self.root = TreeNode(key=[], slots=torch.empty(0, dtype=torch.int64), lock_ref=1)
        self._clock = itertools.count(1)
        self.evictable_size = 0
        self.protected_size = 0

    def size_info(self) -> dict[str, int]:
        return {"evictable": self.evictable_size, "protected": self.protected_size}

    def _page_key(self, tokens: Sequence[int]) -> tuple[int, ...]:
        return tuple(tokens[: self.page_size])

    def _aligned(self, n: int) -> int:
        return n - n % self.page_size

    def match_prefix(self, tokens: Sequence[int]) -> PrefixMatch:
        """Longest cached page-aligned prefix of `tokens`; splits a node where the match ends."""
        tokens = list(tokens[: self._aligned(len(tokens))])
        node, matched, now = self.root, [], next(self._clock)
        while tokens and (child := node.children.get(self._page_key(tokens))):
            n = self._common(child.key, tokens)
            if n < len(child.key):
                child = self._split(child, n)
            child.last_access = now
            matched.append(child.slots)
            node, tokens = child, tokens[n:]
        slots = torch.cat(matched) if matched else self.root.slots
        return PrefixMatch(slots=slots, node=node)

    def insert(self, tokens: Sequence[int], slots: torch.Tensor) -> int:
        """Caches the page-aligned part of (tokens, slots); returns how many leading tokens were
        already cached. The caller still owns those duplicate slots and must free them."""
        length = self._aligned(len(tokens))
        tokens, slots = list(tokens[:length]), slots[:length]
        node, done, now = self.root, 0, next(self._clock)
        while done < length:
            child = node.children.get(self._page_key(tokens[done:]))
            if child is None:
                leaf = TreeNode(key=tokens[done:], slots=slots[done:], parent=node, last_access=now)
                node.children[self._page_key(leaf.key)] = leaf
                self.evictable_size += len(leaf.key)
                return done
            n = self._common(child.key, tokens[done:])
            if n < len(child.key):
                child = self._split(child, n)
            child.last_access = now
            node, done = child, done + n
        return done

    def _common(self, key: list[int], tokens: list[int]) -> int:
        """Page-aligned length of the common prefix."""
        n = 0
        limit = min(len(key), len(tokens))
        while n < limit and key[n : n + self.page_size] == tokens[n : n + self.page_size]:
            n += self.page_size
        return min(n, limit)

    def _split(self, child: TreeNode, n: int) -> TreeNode:
        """Cuts `child` after n tokens; returns the new upper node (same lock count)."""
        parent = child.parent
        assert parent is not None
        upper = TreeNode(
            key=child.key[:n], slots=child.slots[:n], parent=parent,
            lock_ref=child.lock_ref, last_access=child.last_access,
        )  # fmt: skip
        child.key, child.slots, child.parent = child.key[n:], child.slots[n:], upper
        upper.children[self._page_key(child.key)] = child
        parent.children[self._page_key(upper.key)] = upper
        return upper

    def inc_lock(self, node: TreeNode) -> None:
        """Protects the path root→node from eviction (a request or session now relies on it)."""
        while node is not self.root:
            if node.lock_ref == 0:
                self.evictable_size -= len(node.key)
                self.protected_size += len(node.key)
            node.lock_ref += 1
            assert node.parent is not None
            node = node.parent

    def dec_lock(self, node: TreeNode) -> None:
        """Undoes one inc_lock on the same node."""
        while node is not self.root:
            if node.lock_ref <= 0:
                raise RuntimeError("unlocking a prefix-cache node that is not locked")
            node.lock_ref -= 1
            if node.lock_ref == 0:
                self.protected_size -= len(node.key)
                self.evictable_size += len(node.key)
            assert node.parent is not None
            node = node.parent

    def evict(self, num_tokens: int) -> int:
        """Frees unlocked leaves, least recently used first, until `num_tokens` slots are back in
        the pool or nothing evictable is left; returns the number of slots freed."""
        heap = [(n.last_access, id(n), n) for n in self._leaves() if n.lock_ref == 0]
        heapq.heapify(heap)
        freed = 0
        while freed < num_tokens and heap:
            _, _, leaf = heapq.heappop(heap)
            freed += self.pool.free_pages(leaf.slots)
            self.evictable_size -= len(leaf.key)
            parent = leaf.parent
            assert parent is not None
            del parent.children[self._page_key(leaf.key)]
            if parent is not self.root and parent.is_leaf and parent.lock_ref == 0:
                heapq.heappush(heap, (parent.last_access, id(parent), parent))
        return freed

    def _leaves(self) -> list[TreeNode]:
        stack, leaves = [self.root], []
        while stack:
            node = stack.pop()
            stack.extend(node.children.values())
            if node.is_leaf and node is not self.root:
                leaves.append(node)
        return leaves

    def total_size(self) -> int:
        """Slots held by the tree, counted by walking it (for the checker and tests)."""
        stack, total = [self.root], 0
        while stack:
            node = stack.pop()
            total += len(node.key)
            stack.extend(node.children.values())
        return total
