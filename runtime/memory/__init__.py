"""Serving memory: the pool tensors the model reads and writes, and their slot allocators.

The exports load on first use (PEP 562), so that torch-free parts of this package (the checker's
modes, fault names, memory config) can be imported by `poolscope --help` without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.memory.kv_buffer import KVBuffer
    from runtime.memory.mamba_buffer import MambaBuffer
    from runtime.memory.pool_tensors import FULL, SWA, PoolTensors
    from runtime.memory.req_to_token import ReqToTokenTable
    from runtime.memory.slot_allocator import OutOfSlotsError, SlotAllocator

_HOMES = {
    "FULL": "pool_tensors",
    "SWA": "pool_tensors",
    "KVBuffer": "kv_buffer",
    "MambaBuffer": "mamba_buffer",
    "OutOfSlotsError": "slot_allocator",
    "PoolTensors": "pool_tensors",
    "ReqToTokenTable": "req_to_token",
    "SlotAllocator": "slot_allocator",
}

__all__ = [
    "FULL",
    "SWA",
    "KVBuffer",
    "MambaBuffer",
    "OutOfSlotsError",
    "PoolTensors",
    "ReqToTokenTable",
    "SlotAllocator",
]


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
