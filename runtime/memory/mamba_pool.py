"""The mamba pool: one slot is one request's recurrent state (working slot or track snapshot)."""

from __future__ import annotations

from runtime.memory.mamba_buffer import MambaBuffer
from runtime.memory.slot_allocator import CountedSlots, SlotAllocator


class MambaPool(CountedSlots):
    """Allocates state slots over a MambaBuffer; slot 0 is reserved. A fresh slot is zeroed."""

    name = "mamba"

    def __init__(self, buffer: MambaBuffer) -> None:
        self.buffer = buffer
        self._slots = SlotAllocator(buffer.num_slots)

    def allocate(self, n: int) -> list[int]:
        """Takes n slots and zeroes their state; raises OutOfSlotsError (taking none) when short."""
        slots = self._slots.allocate(n)
        for slot in slots:
            self.buffer.conv[:, slot].zero_()
            self.buffer.ssm[:, slot].zero_()
        return slots

    def fork(self, src: int) -> int:
        """A new slot holding a copy of `src` (copy-on-write of a cached snapshot)."""
        (dst,) = self._slots.allocate(1)
        self.buffer.copy_slot(src, dst)
        return dst

    def free(self, slots: list[int]) -> None:
        """Returns slots; a double free is not refused here but shows up in the checker."""
        if 0 in slots:
            raise ValueError("freeing the reserved mamba slot 0")
        self._slots.free(slots)
