"""The request pool: one slot is one row of the request→token table."""

from __future__ import annotations

from runtime.memory.req_to_token import ReqToTokenTable
from runtime.memory.slot_allocator import CountedSlots, SlotAllocator


class ReqPool(CountedSlots):
    """Hands out rows 1..rows-1 of a ReqToTokenTable (row 0 reserved, like every pool's slot 0)."""

    name = "req"

    def __init__(self, table: ReqToTokenTable) -> None:
        self.table = table
        self._slots = SlotAllocator(table.num_rows)

    def allocate(self) -> int:
        """One free row, its table entries cleared to slot 0 (so stale slots are never read)."""
        (row,) = self._slots.allocate(1)
        for table in self.table.tables.values():
            table[row].zero_()
        return row

    def free(self, row: int) -> None:
        if row == 0:
            raise ValueError("freeing the reserved request row 0")
        self._slots.free([row])
