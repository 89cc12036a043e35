"""Configuration of the serving memory: pool capacities, paging, mamba strategy, checker."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from runtime.memory.checker import CheckMode
from runtime.memory.faults import parse_faults


class MambaStrategy(Enum):
    """How mamba state snapshots reach the prefix cache (see ARCHITECTURE.md, Memory)."""

    NO_BUFFER = "no_buffer"
    EXTRA_BUFFER = "extra_buffer"
    EXTRA_BUFFER_LAZY = "extra_buffer_lazy"


class LeakPolicy(Enum):
    """What a failed invariant check does besides counting: nothing more, warn, or raise."""

    COUNT = "count"
    WARN = "warn"
    RAISE = "raise"


@dataclass(frozen=True)
class HostTierConfig:
    """The per-request device buffer under the host tier: attention sinks + recent tokens +
    the top-k other pages by key summary. Sinks and recent are rounded up to whole pages."""

    sink_tokens: int = 4
    recent_tokens: int = 64
    top_k_pages: int = 8

    def __post_init__(self) -> None:
        if self.sink_tokens < 0 or self.recent_tokens < 1 or self.top_k_pages < 0:
            raise ValueError("host tier: sink_tokens >= 0, recent_tokens >= 1, top_k_pages >= 0")

    def budget_pages(self, page_size: int) -> tuple[int, int, int]:
        """(sink, recent, top-k) pages."""
        return (
            -(-self.sink_tokens // page_size),
            -(-self.recent_tokens // page_size),
            self.top_k_pages,
        )


@dataclass(frozen=True)
class MemoryConfig:
    """Slot counts exclude the reserved slot 0 (or page 0). A pool of 0 slots is absent."""

    full_slots: int = 0
    swa_slots: int = 0
    mamba_slots: int = 0
    host_slots: int = 0
    req_rows: int = 8
    page_size: int = 1
    max_context: int = 4096
    window: int | None = None
    mamba_strategy: MambaStrategy = MambaStrategy.NO_BUFFER
    track_interval: int = 256
    host_tier: HostTierConfig | None = None
    check_mode: CheckMode = CheckMode.IDLE
    on_leak: LeakPolicy = LeakPolicy.COUNT
    faults: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        parse_faults(self.faults)
        for name in ("full_slots", "swa_slots", "mamba_slots", "host_slots"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.req_rows < 1 or self.page_size < 1:
            raise ValueError("req_rows and page_size must be >= 1")
        for name in ("full_slots", "swa_slots", "host_slots"):
            if getattr(self, name) % self.page_size:
                raise ValueError(f"{name}={getattr(self, name)} is not a multiple of page_size")
        if (self.swa_slots > 0) != (self.window is not None):
            raise ValueError("an swa pool needs the model's window, and a window an swa pool")
        if (self.host_tier is not None) != (self.host_slots > 0):
            raise ValueError("the host tier needs host_slots, and host_slots the host tier")
        if self.host_tier is not None and not self.full_slots:
            raise ValueError("the host tier backs full-attention KV: it needs a full pool")
        self._check_mamba()

    def _check_mamba(self) -> None:
        if not self.mamba_slots:
            return
        if self.mamba_strategy is MambaStrategy.NO_BUFFER and self.page_size != 1:
            raise ValueError(
                "mamba strategy no_buffer caches the state at the exact request length, so it "
                "needs page_size 1; use extra_buffer or extra_buffer_lazy with larger pages"
            )
        if self.track_interval < 1 or self.track_interval % self.page_size:
            raise ValueError(
                f"track_interval {self.track_interval} must be a positive multiple of "
                f"page_size {self.page_size}"
            )

    @property
    def track_slots(self) -> int:
        """Track slots a running request holds outside a boundary, by strategy."""
        return {MambaStrategy.NO_BUFFER: 0, MambaStrategy.EXTRA_BUFFER: 2,
                MambaStrategy.EXTRA_BUFFER_LAZY: 1}[self.mamba_strategy]
