"""Pool capacities from a byte budget: within the budget, in the asked ratio, refused if tiny."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from runtime.memory.capacity import plan_capacity, slot_bytes
from runtime.memory.memory_config import MambaStrategy, MemoryConfig
from runtime.model.loader import read_config


def _base(window: int | None) -> MemoryConfig:
    return MemoryConfig(req_rows=4, page_size=4, window=window, swa_slots=4 if window else 0,
                        mamba_strategy=MambaStrategy.EXTRA_BUFFER, track_interval=8)


@pytest.mark.parametrize("model", ["nemotron_h", "gemma3"])
def test_plan_fits_the_budget_in_the_asked_ratio(
    model: str, request: pytest.FixtureRequest
) -> None:
    path: Path = request.getfixturevalue(f"{model}_dir")
    config = read_config(path)[2]
    window = config.attention.sliding_window if config.num_swa_layers else None
    budget = 8 << 20
    plan = plan_capacity(config, budget, _base(window), torch.bfloat16)
    sizes = slot_bytes(config, torch.bfloat16)
    used = (
        plan.full_slots * sizes.full + plan.swa_slots * sizes.swa + plan.mamba_slots * sizes.mamba
    )
    assert budget - 4 * (sizes.full + sizes.swa) - sizes.mamba <= used <= budget
    if window:
        assert plan.swa_slots == pytest.approx(0.8 * plan.full_slots, abs=4)
    if config.num_mamba_layers:
        assert plan.mamba_slots == 4 * (1 + 2 + 1)
    assert plan.full_slots % 4 == 0 and plan.req_rows == 4


def test_a_budget_too_small_is_refused_with_the_sizes(nemotron_h_dir: Path) -> None:
    config = read_config(nemotron_h_dir)[2]
    with pytest.raises(ValueError, match="cannot hold 16 mamba slots"):
        plan_capacity(config, 1000, _base(None), torch.float32)
