"""The request→token table: for each request row, the pool slot of every token position.

Writes from the per-request bookkeeping (`write_lists`, `clear`) are queued as flat host lists
and applied in one scatter per pool when the table is next read through `tables`: a decode step
at 64 running otherwise issued a few hundred tiny tensor writes, which cost more host time than
the rest of the step's bookkeeping together (and one kernel launch each on a GPU).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class _Pending:
    """Queued cell writes of one pool: flat cell index (row * width + column) -> slot. A dict
    keeps the last write to a cell, in order, like the writes it replaces."""

    width: int
    cells: dict[int, int] = field(default_factory=dict)

    def add(self, row: int, start: int, values: list[int]) -> None:
        first = row * self.width + start
        self.cells.update(zip(range(first, first + len(values)), values, strict=True))


class ReqToTokenTable:
    """One int64 table per KV pool (`full`, `swa`), shape [rows, max_context].

    Slot 0 marks "no slot" (never written, or freed once it left the sliding window). Reading
    `tables` applies every queued write first, so queued writes are never observable.
    """

    def __init__(self, tables: dict[str, torch.Tensor], num_rows: int, max_context: int) -> None:
        self._tables, self.num_rows, self.max_context = tables, num_rows, max_context
        self._pending: dict[str, _Pending] = {}

    @classmethod
    def allocate(
        cls, *, pools: tuple[str, ...], num_rows: int, max_context: int, device: torch.device | str
    ) -> ReqToTokenTable:
        return cls(
            tables={
                pool: torch.zeros((num_rows, max_context), dtype=torch.int64, device=device)
                for pool in pools
            },
            num_rows=num_rows,
            max_context=max_context,
        )

    @property
    def tables(self) -> dict[str, torch.Tensor]:
        """The tables with every queued write applied."""
        self.flush()
        return self._tables

    def flush(self) -> None:
        """Applies the queued writes: one scatter per pool."""
        for pool, pending in self._pending.items():
            table = self._tables[pool]
            flat = torch.tensor(list(pending.cells), dtype=torch.int64, device=table.device)
            values = torch.tensor(list(pending.cells.values()), dtype=torch.int64,
                                  device=table.device)
            table.view(-1)[flat] = values
        self._pending.clear()

    def write(self, pool: str, row: int, start: int, slots: torch.Tensor) -> None:
        """Records the slots of positions [start, start + len(slots)) of one row."""
        self._check_end(start + slots.numel())
        self.tables[pool][row, start : start + slots.numel()] = slots

    def write_lists(self, row: int, slots: dict[str, list[int]], start: int) -> None:
        """Queues each pool's slots from position `start` on (pools without a table skipped)."""
        for pool, values in slots.items():
            if pool in self._tables and len(values) > start:
                self._check_end(len(values))
                self._queue(pool).add(row, start, values[start:])

    def write_cells(self, rows: list[int], positions: list[int],
                    slots: dict[str, list[int]]) -> None:
        """Queues one cell per row and pool: position positions[i] of row rows[i] gets
        slots[pool][i] (a decode step's new slots; pools without a table skipped)."""
        if positions and max(positions) >= self.max_context:
            self._check_end(max(positions) + 1)
        for pool, values in slots.items():
            if pool in self._tables:
                pending = self._queue(pool)
                width = pending.width
                cells = [row * width + pos for row, pos in zip(rows, positions, strict=True)]
                pending.cells.update(zip(cells, values, strict=True))

    def clear(self, pool: str, row: int, start: int, end: int) -> None:
        """Queues slot 0 ("no slot") for positions [start, end) of one row."""
        self._check_end(end)
        self._queue(pool).add(row, start, [0] * (end - start))

    def read(self, pool: str, row: int, start: int, end: int) -> torch.Tensor:
        return self.tables[pool][row, start:end]

    def _queue(self, pool: str) -> _Pending:
        pending = self._pending.get(pool)
        if pending is None:
            pending = self._pending[pool] = _Pending(self._tables[pool].shape[1])
        return pending

    def _check_end(self, end: int) -> None:
        if end > self.max_context:
            raise ValueError(f"position {end - 1} beyond the table's context of {self.max_context}")

