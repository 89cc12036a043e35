"""Everything the forward pass may read or write, bundled: KV per pool, mamba state, rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from runtime.memory.kv_buffer import KVBuffer
from runtime.memory.mamba_buffer import MambaBuffer
from runtime.memory.req_to_token import ReqToTokenTable

if TYPE_CHECKING:  # memory sits below the model package; it only reads the config's sizes
    from runtime.model.config import ModelConfig

FULL = "full"
SWA = "swa"


@dataclass
class PoolTensors:
    """The device tensors behind the pools. Allocation policy lives elsewhere; this only stores."""

    kv: dict[str, KVBuffer]  # pool name ("full", "swa") -> buffer
    mamba: MambaBuffer | None
    req_to_token: ReqToTokenTable
    host: KVBuffer | None = None  # host-memory copy of full-attention KV (host tier)

    @classmethod
    def allocate(
        cls,
        config: ModelConfig,
        *,
        kv_slots: dict[str, int],
        mamba_slots: int,
        num_rows: int,
        max_context: int,
        dtype: torch.dtype,
        device: torch.device | str,
        host_slots: int = 0,
    ) -> PoolTensors:
        """Sizes buffers from slot counts (slot 0 included); pools the model lacks are skipped."""
        att = config.attention
        layers = {FULL: config.num_full_layers, SWA: config.num_swa_layers}
        kv = {
            name: KVBuffer.allocate(
                num_layers=layers[name],
                num_slots=kv_slots[name],
                num_kv_heads=att.num_kv_heads,
                head_dim=att.head_dim,
                dtype=dtype,
                device=device,
            )
            for name in (FULL, SWA)
            if layers[name]
        }
        host = None
        if host_slots:
            host = KVBuffer.allocate(
                num_layers=layers[FULL], num_slots=host_slots, num_kv_heads=att.num_kv_heads,
                head_dim=att.head_dim, dtype=dtype, device="cpu",
            )
        return cls(
            kv=kv,
            mamba=_mamba_buffer(config, mamba_slots, dtype, device),
            req_to_token=ReqToTokenTable.allocate(
                pools=tuple(kv), num_rows=num_rows, max_context=max_context, device=device
            ),
            host=host,
        )


def _mamba_buffer(
    config: ModelConfig, num_slots: int, dtype: torch.dtype, device: torch.device | str
) -> MambaBuffer | None:
    m = config.mamba
    if m is None or not config.num_mamba_layers:
        return None
    return MambaBuffer.allocate(
        num_layers=config.num_mamba_layers,
        num_slots=num_slots,
        conv_dim=m.conv_dim,
        conv_kernel=m.conv_kernel,
        num_heads=m.num_heads,
        head_dim=m.head_dim,
        state_size=m.state_size,
        dtype=dtype,
        device=device,
    )
