"""The host tier: every token's full-attention KV lives in host memory; the device keeps, per
request, a bounded buffer of pages (attention sinks + recent tokens + the top-k other pages by
a per-page key summary) and swaps pages in from host as they are selected.

A prefill runs with its whole prompt resident (the extend attends densely); from then on,
after every step, new tokens are backed up to host and the buffer is cut back to the budget.
The per-page summary is the mean key over the page (all full layers and heads); a page's score
is its summary's dot product with the newest token's keys. With a budget of at least the
sequence nothing is ever dropped, so attention equals dense attention exactly.
"""

from __future__ import annotations

import torch

from runtime.memory.holdings import Holdings
from runtime.memory.memory_config import HostTierConfig
from runtime.memory.pool_tensors import FULL, PoolTensors
from runtime.memory.req_to_token import ReqToTokenTable
from runtime.memory.token_pool import TokenPool

HOST = "host"


class HostTier:
    """Moves a request's full-attention KV between the device pool and the host pool."""

    def __init__(
        self,
        config: HostTierConfig,
        device_pool: TokenPool,
        host_pool: TokenPool,
        table: ReqToTokenTable,
        tensors: PoolTensors | None,
    ) -> None:
        self.config, self.device_pool, self.host_pool = config, device_pool, host_pool
        self.page_size, self.table = device_pool.page_size, table
        self.device_kv = tensors.kv[FULL] if tensors is not None else None
        self.host_kv = tensors.host if tensors is not None else None
        self.summary: torch.Tensor | None = None
        if self.host_kv is not None:
            width = self.host_kv.k[:, 0].numel()
            self.summary = torch.zeros((host_pool.num_pages, width), dtype=torch.float32)

    # -- residency -------------------------------------------------------------------------

    def resident_pages(self, held: Holdings) -> list[int]:
        """The request's logical pages that have device slots now."""
        device = held.slots.get(FULL, [])
        return [p for p in range(-(-held.allocated // self.page_size))
                if device[p * self.page_size]]

    def pages_to_load(self, held: Holdings) -> int:
        """Device pages a dense step over the whole sequence would still need."""
        return -(-held.allocated // self.page_size) - len(self.resident_pages(held))

    def load_all(self, held: Holdings) -> None:
        """Makes every page resident (a prefill attends over the whole prefix)."""
        pages = range(-(-held.allocated // self.page_size))
        self._swap_in(held, [p for p in pages if not held.slots[FULL][p * self.page_size]])

    def after_step(self, held: Holdings) -> None:
        """Backs new tokens up to host and, once the prompt is in, cuts the buffer back."""
        self._backup(held)
        if held.allocated >= held.prefill_end:
            self._resize(held, self._select(held))

    def release(self, held: Holdings) -> None:
        """Frees every device page the request holds (the host copy is released elsewhere)."""
        for page in self.resident_pages(held):
            self._drop(held, page)

    # -- backup and selection --------------------------------------------------------------

    def _backup(self, held: Holdings) -> None:
        lo, hi = held.host_backed, held.allocated
        if hi <= lo:
            return
        if self.device_kv is not None and self.host_kv is not None:
            dev = torch.tensor(held.slots[FULL][lo:hi], device=self.device_kv.k.device)
            host = torch.tensor(held.slots[HOST][lo:hi])
            self.host_kv.k[:, host] = self.device_kv.k[:, dev].to("cpu")
            self.host_kv.v[:, host] = self.device_kv.v[:, dev].to("cpu")
            for page in range(lo // self.page_size, hi // self.page_size):
                self._summarize(held, page)
        held.host_backed = hi

    def _summarize(self, held: Holdings, page: int) -> None:
        assert self.host_kv is not None and self.summary is not None
        ps = self.page_size
        slots = torch.tensor(held.slots[HOST][page * ps : (page + 1) * ps])
        keys = self.host_kv.k[:, slots].float().mean(dim=1)  # [L, H, D]
        self.summary[slots[0] // ps] = keys.flatten()

    def _select(self, held: Holdings) -> set[int]:
        """Sinks + recent pages + the top-k others by score; everything if it fits."""
        num_pages = -(-held.allocated // self.page_size)
        sinks, recent, top_k = self.config.budget_pages(self.page_size)
        if num_pages <= sinks + recent + top_k:
            return set(range(num_pages))
        keep = set(range(sinks)) | set(range(num_pages - recent, num_pages))
        candidates = [p for p in range(num_pages) if p not in keep]
        return keep | set(self._top_k(held, candidates, top_k))

    def _top_k(self, held: Holdings, candidates: list[int], k: int) -> list[int]:
        if k == 0 or not candidates:
            return []
        if self.summary is None or self.host_kv is None:  # books only: keep the newest
            return candidates[-k:]
        ps = self.page_size
        host_pages = torch.tensor([held.slots[HOST][p * ps] // ps for p in candidates])
        newest = self.host_kv.k[:, held.slots[HOST][held.allocated - 1]].float().flatten()
        scores = self.summary[host_pages] @ newest
        best = torch.topk(scores, min(k, len(candidates))).indices.tolist()
        return [candidates[i] for i in best]

    # -- moving pages ----------------------------------------------------------------------

    def _resize(self, held: Holdings, target: set[int]) -> None:
        resident = set(self.resident_pages(held))
        for page in sorted(resident - target):
            self._drop(held, page)
        self._swap_in(held, sorted(target - resident))

    def _drop(self, held: Holdings, page: int) -> None:
        ps = self.page_size
        device = held.slots[FULL]
        self.device_pool.free_pages(torch.tensor(device[page * ps : (page + 1) * ps]))
        device[page * ps : (page + 1) * ps] = [0] * ps
        self.table.tables[FULL][held.row, page * ps : (page + 1) * ps] = 0

    def _swap_in(self, held: Holdings, pages: list[int]) -> None:
        """Copies whole pages from host into fresh device pages; stops when the pool is dry
        (attention then runs over fewer pages: an approximation, never an error)."""
        ps = self.page_size
        for page in pages:
            if not self.device_pool.can_allocate(0, ps):
                return
            dev = self.device_pool.allocate(0, 0, ps)
            if self.device_kv is not None and self.host_kv is not None:
                host = torch.tensor(held.slots[HOST][page * ps : (page + 1) * ps])
                self.device_kv.k[:, dev] = self.host_kv.k[:, host].to(dev.device)
                self.device_kv.v[:, dev] = self.host_kv.v[:, host].to(dev.device)
            held.slots[FULL][page * ps : (page + 1) * ps] = dev.tolist()
            self.table.tables[FULL][held.row, page * ps : (page + 1) * ps] = dev
