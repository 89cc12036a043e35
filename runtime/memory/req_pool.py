"""The request pool: one slot is one row of the request→token table."""

from __future__ import annotations

from runtime.memory.req_to_token import ReqToTokenTable
from runtime.memory.slot_allocator import SlotAllocator


class ReqPool:
    """Hands out rows 1..rows-1 of a ReqToTokenTable (row 0 reserved, like every pool's slot 0)."""

    name = "req"

    def __init__(self, table: ReqToTokenTable) -> None:
        self.table = table
        self._rows = SlotAllocator(table.num_rows)

    @property
    def capacity(self) -> int:
        return self._rows.num_slots - 1

    @property
    def num_free_slots(self) -> int:
        return self._rows.num_free

    def size_info(self) -> dict[str, int]:
        return {"capacity": self.capacity, "available": self.num_free_slots}

    def can_allocate(self, n: int = 1) -> bool:
        return self._rows.can_allocate(n)

    def allocate(self) -> int:
        """One free row, its table entries cleared to slot 0 (so stale slots are never read)."""
        (row,) = self._rows.allocate(1)
        for table in self.table.tables.values():
            table[row].zero_()
        return row

    def free(self, row: int) -> None:
        if row == 0:
            raise ValueError("freeing the reserved request row 0")
        self._rows.free([row])
