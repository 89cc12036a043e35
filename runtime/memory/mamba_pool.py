"""The mamba pool: one slot is one request's recurrent state (working slot or track snapshot)."""

from __future__ import annotations

from runtime.memory.mamba_buffer import MambaBuffer
from runtime.memory.slot_allocator import CountedSlots, SlotAllocator


class MambaPool(CountedSlots):
    """Allocates state slots; slot 0 is reserved. A fresh slot is zeroed.

    `buffer` is None when the pool only keeps books (memory-layer tests without a model).
    """

    name = "mamba"

    def __init__(self, num_slots: int, buffer: MambaBuffer | None = None) -> None:
        if buffer is not None and buffer.num_slots != num_slots:
            raise ValueError(f"mamba buffer has {buffer.num_slots} slots, pool wants {num_slots}")
        self.buffer = buffer
        self._slots = SlotAllocator(num_slots)

    @classmethod
    def over(cls, buffer: MambaBuffer) -> MambaPool:
        return cls(buffer.num_slots, buffer)

    def allocate(self, n: int) -> list[int]:
        """Takes n slots and zeroes their state; raises OutOfSlotsError (taking none) when short."""
        slots = self._slots.allocate(n)
        if self.buffer is not None:
            for slot in slots:
                self.buffer.conv[:, slot].zero_()
                self.buffer.ssm[:, slot].zero_()
        return slots

    def copy(self, src: int, dst: int) -> None:
        """Copies a state between two slots the caller owns (a track snapshot)."""
        if self.buffer is not None:
            self.buffer.copy_slot(src, dst)

    def fork(self, src: int) -> int:
        """A new slot holding a copy of `src` (copy-on-write of a cached snapshot)."""
        (dst,) = self._slots.allocate(1)
        self.copy(src, dst)
        return dst

    def free(self, slots: list[int]) -> None:
        """Returns slots; a double free is not refused here but shows up in the checker."""
        if 0 in slots:
            raise ValueError("freeing the reserved mamba slot 0")
        self._slots.free(slots)
