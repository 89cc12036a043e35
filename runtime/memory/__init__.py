"""Serving memory: the pool tensors the model reads and writes, and their slot allocators."""

from runtime.memory.kv_buffer import KVBuffer
from runtime.memory.mamba_buffer import MambaBuffer
from runtime.memory.pool_tensors import FULL, SWA, PoolTensors
from runtime.memory.req_to_token import ReqToTokenTable
from runtime.memory.slot_allocator import OutOfSlotsError, SlotAllocator

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
