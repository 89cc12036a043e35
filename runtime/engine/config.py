"""Engine configuration: the model, the device, every memory knob and the scheduler's budgets.

Pool capacities are either given explicitly (tokens for `full`/`swa`, states for `mamba`) or
split from `mem_budget_mb` by `plan_capacity`. The resolved `MemoryConfig` is derived at start-up
(`memory_config`) and never written back here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from runtime.memory.checker import CheckMode
from runtime.memory.faults import parse_faults
from runtime.memory.memory_config import HostTierConfig, LeakPolicy, MambaStrategy, MemoryConfig

if TYPE_CHECKING:
    import torch

    from runtime.model.config import ModelConfig
    from runtime.scheduler.scheduler import SchedulerConfig

# NOTE: torch, the model and the scheduler are imported where they are used, not here: the CLI
# reads this module's defaults for `poolscope serve --help`, which must start without torch.

MIB = 1 << 20


@dataclass(frozen=True)
class EngineConfig:
    """Everything `poolscope serve` and `poolscope generate` can set (see engine_args.py)."""

    model: str = "default"
    device: str = "auto"
    dtype: str = "float32"
    mem_budget_mb: float = 64.0
    full_tokens: int | None = None
    swa_tokens: int | None = None
    mamba_slots: int | None = None
    swa_full_ratio: float = 0.8
    page_size: int = 1
    max_context: int | None = None  # default: the model's max_position_embeddings
    mamba_strategy: MambaStrategy = MambaStrategy.NO_BUFFER
    track_interval: int = 256
    host_tier: bool = False
    host_tokens: int | None = None  # default: 4x the full pool
    host_sink_tokens: int = 4
    host_recent_tokens: int = 64
    host_top_k_pages: int = 8
    chunked_prefill_size: int = 512
    max_running_requests: int = 32
    max_sessions: int = 16
    session_timeout_s: float = 600.0
    session_min_idle_s: float = 2.0  # idle time before memory pressure may evict a session
    queue_timeout_s: float = 300.0  # a request waiting longer for memory ends as pools-busy
    mem_check: CheckMode = CheckMode.IDLE
    on_leak: LeakPolicy = LeakPolicy.COUNT
    idle_check_interval_s: float = 5.0  # periodic idle check; 0 turns it off
    faults: frozenset[str] = field(default_factory=frozenset)
    seed: int = 0
    torch_threads: int | None = None  # default: the physical cores this process may run on
    # Off: outputs carry token ids without text (a frontend detokenizes); requests with stop
    # strings still decode, to find them, so finish decisions are the same either way.
    produce_text: bool = True

    def __post_init__(self) -> None:
        parse_faults(self.faults)
        if self.mem_budget_mb <= 0:
            raise ValueError(f"mem_budget_mb must be > 0, got {self.mem_budget_mb}")
        for name in ("full_tokens", "swa_tokens", "mamba_slots", "host_tokens", "max_context"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 when given, got {value}")
        if self.max_sessions < 0 or self.session_timeout_s <= 0:
            raise ValueError("max_sessions must be >= 0 and session_timeout_s > 0")
        if not self.idle_check_interval_s >= 0:  # NOTE: also refuses NaN
            raise ValueError(
                f"idle_check_interval_s must be >= 0 (0: off), got {self.idle_check_interval_s}"
            )
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ValueError(f"torch_threads must be >= 1 when given, got {self.torch_threads}")
        if not self.queue_timeout_s > 0:
            raise ValueError(f"queue_timeout_s must be > 0, got {self.queue_timeout_s}")
        self.scheduler  # validates the scheduler's fields  # noqa: B018
        self.host_tier_config  # noqa: B018

    @property
    def scheduler(self) -> SchedulerConfig:
        from runtime.scheduler.scheduler import SchedulerConfig

        return SchedulerConfig(self.chunked_prefill_size, self.max_running_requests,
                               self.session_min_idle_s)

    @property
    def host_tier_config(self) -> HostTierConfig | None:
        if not self.host_tier:
            return None
        return HostTierConfig(self.host_sink_tokens, self.host_recent_tokens, self.host_top_k_pages)

    @property
    def num_rows(self) -> int:
        """Request rows: one per running request and one per idle session."""
        return self.max_running_requests + self.max_sessions


def _round_up(n: int, page: int) -> int:
    return -(-n // page) * page


def memory_config(config: EngineConfig, model: ModelConfig, dtype: torch.dtype) -> MemoryConfig:
    """The pools this engine runs with: explicit sizes where given, else the budget's split."""
    from runtime.memory.capacity import plan_capacity

    window = model.attention.sliding_window if model.num_swa_layers else None
    base = MemoryConfig(
        req_rows=config.num_rows, page_size=config.page_size,
        max_context=config.max_context or model.max_position_embeddings, window=window,
        swa_slots=config.page_size if window else 0,  # provisional: a window needs a pool
        mamba_strategy=config.mamba_strategy, track_interval=config.track_interval,
        check_mode=config.mem_check, on_leak=config.on_leak, faults=config.faults,
    )
    explicit = {"full_slots": (config.full_tokens, model.num_full_layers, config.page_size),
                "swa_slots": (config.swa_tokens, model.num_swa_layers, config.page_size),
                "mamba_slots": (config.mamba_slots, model.num_mamba_layers, 1)}
    planned = base
    if any(given is None and layers for given, layers, _ in explicit.values()):
        planned = plan_capacity(model, int(config.mem_budget_mb * MIB), base, dtype,
                                swa_full_ratio=config.swa_full_ratio)
    sizes = {
        name: _round_up(given, page) if given is not None else getattr(planned, name)
        for name, (given, layers, page) in explicit.items()
        if layers
    }
    resolved = replace(base, **sizes)
    host = config.host_tier_config
    if host is None:
        return resolved
    host_slots = _round_up(config.host_tokens or 4 * resolved.full_slots, config.page_size)
    return replace(resolved, host_tier=host, host_slots=host_slots)
