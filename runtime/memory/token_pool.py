"""A paged pool of token slots (`full`, `swa` or `host` KV), counted in slots.

Page 0 (slots 0..page_size-1) is reserved for padding and never handed out or counted. A request's
slots grow by first filling its partially used last page, then taking whole pages; frees return
whole pages, so a tail free must start on a page boundary.
"""

from __future__ import annotations

import torch

from runtime.memory.slot_allocator import OutOfSlotsError


def pages_needed(num_cached: int, num_new: int, page_size: int) -> int:
    """Pages a request holding `num_cached` slots must take to hold `num_new` more."""
    return -(-(num_cached + num_new) // page_size) - -(-num_cached // page_size)


def page_floor(n: int, page_size: int) -> int:
    """The page boundary at or below n (what the prefix cache can hold of n positions)."""
    return n - n % page_size


def page_ceil(n: int, page_size: int) -> int:
    """Slots a request holding n positions took: whole pages."""
    return -(-n // page_size) * page_size


class TokenPool:
    """Free list of pages. `can_allocate` / `allocate` / `free_pages` mutate only the free list."""

    def __init__(
        self, name: str, num_pages: int, page_size: int, device: torch.device | str
    ) -> None:
        if num_pages < 2 or page_size < 1:
            raise ValueError(
                f"pool {name}: needs >= 2 pages (page 0 is reserved) and page_size >= 1"
            )
        self.name, self.page_size, self.device = name, page_size, torch.device(device)
        self.num_pages = num_pages
        self._free_pages = list(range(num_pages - 1, 0, -1))  # pop() gives low pages first

    @property
    def capacity(self) -> int:
        """Countable slots: every page but the reserved page 0."""
        return (self.num_pages - 1) * self.page_size

    @property
    def num_free_slots(self) -> int:
        return len(self._free_pages) * self.page_size

    @property
    def num_free_pages(self) -> int:
        return len(self._free_pages)

    def take_page(self) -> int:
        """The first slot of the next free page (`allocate_list` of one token at a page
        boundary, for a caller that checked there is a free page)."""
        return self._free_pages.pop() * self.page_size

    def size_info(self) -> dict[str, int]:
        """What the pool itself knows: capacity and available slots (owners know the rest)."""
        return {"capacity": self.capacity, "available": self.num_free_slots}

    def can_allocate(self, num_cached: int, num_new: int) -> bool:
        return pages_needed(num_cached, num_new, self.page_size) <= len(self._free_pages)

    def allocate(self, num_cached: int, last_slot: int, num_new: int) -> torch.Tensor:
        """Slots for `num_new` tokens after a request's `num_cached` ones (the last: `last_slot`).

        Fills the rest of the last page first. Raises OutOfSlotsError, taking nothing, when short.
        """
        slots = self.allocate_list(num_cached, last_slot, num_new)
        return torch.tensor(slots, dtype=torch.int64, device=self.device)

    def allocate_list(self, num_cached: int, last_slot: int, num_new: int) -> list[int]:
        """`allocate` as a host list. NOTE: the engine calls it per request per step; building
        small tensors here cost more than the decode step's attention on a CPU."""
        need = pages_needed(num_cached, num_new, self.page_size)
        if need > len(self._free_pages):
            raise OutOfSlotsError(
                f"pool {self.name}: {need} pages needed, {len(self._free_pages)} free"
            )
        in_last = min(num_new, (-num_cached) % self.page_size)
        head = list(range(last_slot + 1, last_slot + 1 + in_last))
        size = self.page_size
        pages = [self._free_pages.pop() for _ in range(need)]
        body = [page * size + i for page in pages for i in range(size)]
        return head + body[: num_new - in_last]

    def free_pages(self, slots: torch.Tensor | list[int]) -> int:
        """Returns the pages that `slots` touch to the free list; returns how many slots that frees.

        NOTE: it does not check for double frees: a page freed twice shows up as more available
        slots than exist, which is exactly what the invariant checker is there to catch.
        """
        if isinstance(slots, torch.Tensor):
            slots = slots.tolist()
        if not slots:
            return 0
        pages = sorted({slot // self.page_size for slot in slots})
        if pages[0] == 0:
            raise ValueError(f"pool {self.name}: freeing the reserved page 0")
        self._free_pages.extend(reversed(pages))
        return len(pages) * self.page_size
