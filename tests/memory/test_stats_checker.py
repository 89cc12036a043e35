"""PoolStats figures and the checker's identity, signed difference and kind."""

from __future__ import annotations

from runtime.memory.checker import CheckMode, LeakKind, check_stats
from telemetry.pool_stats import PoolPartition, PoolStats


def test_usage_counts_protected_and_session_held_but_not_evictable() -> None:
    """Usage is (capacity - available - evictable) / capacity."""
    part = PoolPartition(
        capacity=100, available=40, evictable=20, protected=10, session_held=5, running=25
    )
    assert part.usage == 0.4 and part.leaked == 0


def test_token_usage_is_the_max_over_full_swa_and_mamba() -> None:
    """token_usage includes mamba; kv_token_usage does not; req and host never count."""
    stats = PoolStats(
        pools={
            "full": PoolPartition(capacity=10, available=8, running=2),
            "swa": PoolPartition(capacity=10, available=7, running=3),
            "mamba": PoolPartition(capacity=4, available=1, running=3),
            "req": PoolPartition(capacity=4, available=0, running=4),
        }
    )
    assert stats.token_usage == 0.75
    assert stats.kv_token_usage == 0.3
    assert stats.bottleneck == "req"


def test_checker_reports_leaks_and_double_frees_with_sign() -> None:
    """A missing slot is a leak (+), an extra free one a double free (-); balanced pools pass."""
    stats = PoolStats(
        pools={
            "full": PoolPartition(capacity=10, available=9),
            "mamba": PoolPartition(capacity=4, available=5),
            "swa": PoolPartition(capacity=3, available=3),
        }
    )
    reports = {r.pool: r for r in check_stats(stats, CheckMode.IDLE)}
    assert set(reports) == {"full", "mamba"}
    assert (reports["full"].difference, reports["full"].leak_kind) == (1, LeakKind.LEAK)
    assert (reports["mamba"].difference, reports["mamba"].leak_kind) == (-1, LeakKind.DOUBLE_FREE)
