"""LRU eviction for the radix prefix cache, one component at a time.

Evicting a KV component deletes unlocked leaves. Evicting SWA or mamba turns unlocked internal
nodes into tombstones of that component (their other components stay) and deletes leaves.
A parent left as a leaf that breaks the tree-shape rules is deleted too.

Owns nothing: it changes the tree it is given (nodes, sizes, evicted counts) and its pools.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from typing import Protocol

from runtime.memory.mamba_pool import MambaPool
from runtime.memory.pool_name import PoolName
from runtime.memory.radix_node import SWA, TreeNode
from runtime.memory.token_pool import TokenPool

MAMBA = "mamba"


class _Tree(Protocol):
    """What eviction needs of the prefix tree (RadixCache), so this module never imports it."""

    root: TreeNode
    components: tuple[str, ...]
    kv_pools: dict[str, TokenPool]
    mamba_pool: MambaPool | None
    num_evicted: Counter[PoolName]

    def nodes(self) -> list[TreeNode]: ...
    def account(self, node: TreeNode, sign: int) -> None: ...
    def page_key(self, tokens: Sequence[int]) -> tuple[int, ...]: ...


class Evictor:
    """LRU eviction from one tree (RadixCache owns one and delegates `evict` to it)."""

    def __init__(self, tree: _Tree) -> None:
        self.tree = tree

    def evict(self, component: str, num: int) -> int:
        """Frees unlocked holdings of `component` (tokens, or mamba states), least recently used
        first, until `num` are back in their pool or none is left; returns how many."""
        if component not in self.tree.components:
            raise ValueError(f"the prefix cache has no {component!r} component")
        nodes = self.tree.nodes()
        heap = [(n.last_access, n.created, n) for n in nodes if self._candidate(n, component)]
        heapq.heapify(heap)
        freed = 0
        while freed < num and heap:
            _, _, node = heapq.heappop(heap)
            if node.parent is None or not self._candidate(node, component):
                continue  # deleted or changed since it was queued
            if node.is_leaf and node.full_lock == 0:
                parent = node.parent
                freed += self._delete(node, component)
                pruned, parent = self._prune(parent, component)
                freed += pruned
                if self._candidate(parent, component):
                    heapq.heappush(heap, (parent.last_access, parent.created, parent))
            elif not node.is_leaf:
                freed += self._tombstone(node, component)
        return freed

    def _candidate(self, node: TreeNode, component: str) -> bool:
        if node is self.tree.root or node.parent is None:
            return False
        if component == MAMBA:
            return node.mamba is not None and node.mamba_lock == 0
        if component == SWA:
            return not node.swa_tombstone and not node.swa_locks
        return node.is_leaf and node.full_lock == 0

    def _tombstone(self, node: TreeNode, component: str) -> int:
        """Drops the SWA or mamba component of an internal node (KV candidates are always
        leaves); returns the count freed."""
        self.tree.account(node, -1)
        if component == SWA:
            freed = self.tree.kv_pools[SWA].free_pages(node.slots[SWA])
            node.slots[SWA] = node.slots[SWA].new_zeros(node.slots[SWA].shape)
            node.swa_tombstone = True
        else:
            self.tree.mamba_pool.free([node.mamba])  # type: ignore[union-attr, list-item]
            node.mamba, freed = None, 1
        self.tree.account(node, +1)
        self.tree.num_evicted[PoolName(component)] += freed
        return freed

    def _delete(self, leaf: TreeNode, component: str) -> int:
        """Removes a leaf and frees everything it holds; returns the count freed of `component`."""
        self.tree.account(leaf, -1)
        freed = dict.fromkeys(self.tree.components, 0)
        for name, pool in self.tree.kv_pools.items():
            if not (name == SWA and leaf.swa_tombstone):
                freed[name] = pool.free_pages(leaf.slots[name])
        if leaf.mamba is not None:
            self.tree.mamba_pool.free([leaf.mamba])  # type: ignore[union-attr]
            freed[MAMBA] = 1
        self.tree.num_evicted.update({PoolName(c): n for c, n in freed.items() if n})
        parent = leaf.parent
        assert parent is not None
        del parent.children[self.tree.page_key(leaf.key)]
        leaf.parent = None
        return freed[component]

    def _prune(self, node: TreeNode, component: str) -> tuple[int, TreeNode]:
        """Deletes `node` and its ancestors while each is an unlocked leaf breaking the rules;
        returns the count freed and the first node kept (which may now be evictable)."""
        freed = 0
        while self._bad_leaf(node):
            parent = node.parent
            freed += self._delete(node, component)
            node = parent  # type: ignore[assignment]
        return freed, node

    def _bad_leaf(self, node: TreeNode) -> bool:
        """An unlocked leaf that is an SWA tombstone or, with a mamba component, stateless."""
        if node is self.tree.root or not node.is_leaf or node.full_lock:
            return False
        return node.swa_tombstone or (self.tree.mamba_pool is not None and node.mamba is None)
