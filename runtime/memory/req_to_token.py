"""The request→token table: for each request row, the pool slot of every token position."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ReqToTokenTable:
    """One int64 table per KV pool (`full`, `swa`), shape [rows, max_context].

    Slot 0 marks "no slot" (never written, or freed once it left the sliding window).
    """

    tables: dict[str, torch.Tensor]
    num_rows: int
    max_context: int

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

    def write(self, pool: str, row: int, start: int, slots: torch.Tensor) -> None:
        """Records the slots of positions [start, start + len(slots)) of one row."""
        end = start + slots.numel()
        if end > self.max_context:
            raise ValueError(f"position {end - 1} beyond the table's context of {self.max_context}")
        self.tables[pool][row, start:end] = slots

    def write_lists(self, row: int, slots: dict[str, list[int]], start: int) -> None:
        """Records each pool's slots from position `start` on (pools without a table skipped)."""
        for pool, values in slots.items():
            if pool in self.tables and values[start:]:
                dev = self.tables[pool].device
                self.write(pool, row, start, torch.tensor(values[start:], device=dev))

    def read(self, pool: str, row: int, start: int, end: int) -> torch.Tensor:
        return self.tables[pool][row, start:end]
