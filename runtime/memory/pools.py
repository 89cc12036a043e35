"""The pools one runtime serves from, built from a MemoryConfig (with or without tensors)."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.memory.mamba_pool import MambaPool
from runtime.memory.memory_config import MemoryConfig
from runtime.memory.pool_tensors import FULL, SWA, PoolTensors
from runtime.memory.req_pool import ReqPool
from runtime.memory.req_to_token import ReqToTokenTable
from runtime.memory.token_pool import TokenPool

HOST = "host"


@dataclass
class Pools:
    """Allocators of every live pool; `tensors` is None when only books are kept (tests)."""

    kv: dict[str, TokenPool]  # device KV pools: "full", "swa"
    host: TokenPool | None
    mamba: MambaPool | None
    req: ReqPool
    tensors: PoolTensors | None

    @classmethod
    def build(cls, config: MemoryConfig, tensors: PoolTensors | None = None) -> Pools:
        sizes = {FULL: config.full_slots, SWA: config.swa_slots}
        kv = {
            name: TokenPool(name, n // config.page_size + 1, config.page_size, _device(tensors))
            for name, n in sizes.items()
            if n
        }
        host = None
        if config.host_slots:
            pages = config.host_slots // config.page_size + 1
            host = TokenPool(HOST, pages, config.page_size, "cpu")
        mamba = None
        if config.mamba_slots:
            buffer = tensors.mamba if tensors is not None else None
            mamba = MambaPool(config.mamba_slots + 1, buffer)
        table = tensors.req_to_token if tensors is not None else ReqToTokenTable.allocate(
            pools=tuple(kv), num_rows=config.req_rows + 1, max_context=config.max_context,
            device="cpu",
        )
        if table.num_rows != config.req_rows + 1:
            raise ValueError(f"request table has {table.num_rows} rows, config wants "
                             f"{config.req_rows} + the reserved row 0")
        if tensors is not None:
            _check_tensors(tensors, kv)
        return cls(kv=kv, host=host, mamba=mamba, req=ReqPool(table), tensors=tensors)

    def by_name(self) -> dict[str, TokenPool | MambaPool | ReqPool]:
        """Every live pool under its telemetry name."""
        named: dict[str, TokenPool | MambaPool | ReqPool] = dict(self.kv)
        if self.mamba is not None:
            named["mamba"] = self.mamba
        named["req"] = self.req
        if self.host is not None:
            named[HOST] = self.host
        return named


def _device(tensors: PoolTensors | None) -> str:
    if tensors is None:
        return "cpu"
    return str(next(iter(tensors.req_to_token.tables.values())).device) if tensors.kv else "cpu"


def _check_tensors(tensors: PoolTensors, kv: dict[str, TokenPool]) -> None:
    if set(tensors.kv) != set(kv):
        raise ValueError(f"pool tensors hold KV pools {sorted(tensors.kv)}, config {sorted(kv)}")
    for name, pool in kv.items():
        have = tensors.kv[name].k.shape[1]
        if have != pool.num_pages * pool.page_size:
            raise ValueError(f"{name} KV buffer has {have} slots, pool wants "
                             f"{pool.num_pages * pool.page_size}")
