"""Pool capacities derived from a memory budget in bytes (tests and small runs set them
explicitly instead)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch

from runtime.memory.memory_config import MemoryConfig

if TYPE_CHECKING:  # memory sits below the model package; it only reads the config's sizes
    from runtime.model.config import ModelConfig


@dataclass(frozen=True)
class SlotBytes:
    """Device bytes of one slot of each pool for a model (KV in `dtype`, SSM state fp32)."""

    full: int
    swa: int
    mamba: int


def slot_bytes(config: ModelConfig, dtype: torch.dtype) -> SlotBytes:
    size = torch.empty(0, dtype=dtype).element_size()
    att = config.attention
    per_layer = 2 * att.num_kv_heads * att.head_dim * size if att is not None else 0
    mamba = 0
    if config.mamba is not None and config.num_mamba_layers:
        m = config.mamba
        conv = m.conv_dim * (m.conv_kernel - 1) * size
        ssm = m.num_heads * m.head_dim * m.state_size * 4
        mamba = config.num_mamba_layers * (conv + ssm)
    return SlotBytes(full=per_layer * config.num_full_layers,
                     swa=per_layer * config.num_swa_layers, mamba=mamba)


def plan_capacity(
    config: ModelConfig,
    budget_bytes: int,
    base: MemoryConfig,
    dtype: torch.dtype,
    *,
    swa_full_ratio: float = 0.8,
    cached_states_per_row: int = 1,
) -> MemoryConfig:
    """Splits a device budget across the pools of `base` (whose other settings are kept).

    Mamba gets room for every request row's working and track slots plus
    `cached_states_per_row` cached states per row; the rest goes to KV, with
    `swa_full_ratio` SWA tokens per full token (SGLang's --swa-full-tokens-ratio). Raises
    ValueError when the budget cannot hold one page of each pool.
    """
    sizes = slot_bytes(config, dtype)
    rows = base.req_rows
    mamba_slots = rows * (1 + base.track_slots + cached_states_per_row) if sizes.mamba else 0
    kv_bytes = budget_bytes - mamba_slots * sizes.mamba
    if sizes.full:
        full = int(kv_bytes // (sizes.full + swa_full_ratio * sizes.swa))
        swa = int(full * swa_full_ratio) if sizes.swa else 0
    else:  # sliding-window attention only (or no attention at all)
        full, swa = 0, (int(kv_bytes // sizes.swa) if sizes.swa else 0)
    page = base.page_size
    full, swa = full - full % page, swa - swa % page
    wanted = {"full": sizes.full, "swa": sizes.swa}
    got = {"full": full, "swa": swa}
    short = [k for k, b in wanted.items() if b and got[k] < page]
    if kv_bytes <= 0 or short:
        raise ValueError(
            f"a budget of {budget_bytes} bytes cannot hold {mamba_slots} mamba slots "
            f"({sizes.mamba} B each) and a page of {', '.join(short) or 'KV'} tokens"
        )
    return replace(base, full_slots=full, swa_slots=swa, mamba_slots=mamba_slots)
