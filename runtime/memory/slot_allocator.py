"""A minimal free-list allocator over one pool's slots (slot 0 reserved, never handed out)."""

from __future__ import annotations


class OutOfSlotsError(RuntimeError):
    """Raised by `allocate` when the pool has fewer free slots than asked for."""


class SlotAllocator:
    """Hands out slot numbers 1..num_slots-1. Check with `can_allocate`, then `allocate`."""

    def __init__(self, num_slots: int) -> None:
        if num_slots < 2:
            raise ValueError("a pool needs at least one usable slot besides the reserved slot 0")
        self.num_slots = num_slots
        self._free = list(range(num_slots - 1, 0, -1))  # pop() yields low slots first

    @property
    def num_free(self) -> int:
        return len(self._free)

    def can_allocate(self, n: int) -> bool:
        return n <= len(self._free)

    def allocate(self, n: int) -> list[int]:
        """Takes n slots off the free list; raises OutOfSlotsError (taking none) if short."""
        if not self.can_allocate(n):
            raise OutOfSlotsError(f"asked for {n} slots, {len(self._free)} free")
        taken = self._free[len(self._free) - n :][::-1]
        del self._free[len(self._free) - n :]
        return taken

    def free(self, slots: list[int]) -> None:
        """Returns slots to the free list. Mutates the list; does not check for double frees."""
        self._free.extend(reversed(slots))


class CountedSlots:
    """Pool bookkeeping shared by pools built on one SlotAllocator (`_slots`): capacity excludes
    the reserved slot 0; `size_info` gives what the pool itself knows."""

    _slots: SlotAllocator

    @property
    def capacity(self) -> int:
        return self._slots.num_slots - 1

    @property
    def num_free_slots(self) -> int:
        return self._slots.num_free

    def size_info(self) -> dict[str, int]:
        return {"capacity": self.capacity, "available": self.num_free_slots}

    def can_allocate(self, n: int = 1) -> bool:
        return self._slots.can_allocate(n)
