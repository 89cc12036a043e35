"""Each fault point: with it on, the first check after it fires names the right pool with the
right sign and amount; with it off, the same scenario is clean."""

from __future__ import annotations

import pytest

from runtime.memory.checker import CheckMode, LeakDetected, LeakKind
from runtime.memory.faults import FAULT_POINTS, parse_faults
from runtime.memory.manager import MemoryManager
from runtime.memory.memory_config import LeakPolicy
from runtime.memory.pool_name import PoolName
from tests.memory.driver import start, step
from tests.memory.scenarios import manager, run, second_turn, session_after_one_turn


def _reports(mm: MemoryManager, idle: bool) -> dict[str, int]:
    return {r.pool: r.difference for r in mm.check(idle=idle)}


def kv_double_free(mm: MemoryManager) -> dict[str, int]:
    run(mm, "a", list(range(10)), chunk=10)  # finishes at 10 tokens: pages 4-7, 8-11 uncached
    return _reports(mm, idle=True)


def swa_skip_free(mm: MemoryManager) -> dict[str, int]:
    req = start(mm, "a", list(range(20)), chunk=20)
    assert req is not None
    step(mm, req, 20)
    assert _reports(mm, idle=False) == {}
    step(mm, req, 1)  # the watermark moves to 20 - 4 - 1 = 15
    return _reports(mm, idle=False)


def session_close_leaks_mamba(mm: MemoryManager) -> dict[str, int]:
    session_after_one_turn(mm)
    assert _reports(mm, idle=True) == {}
    mm.close_session("s")
    return _reports(mm, idle=True)


def session_double_count(mm: MemoryManager) -> dict[str, int]:
    slot, _ = session_after_one_turn(mm)
    assert second_turn(mm, slot) is not None
    return _reports(mm, idle=False)


def session_mamba_revert_free(mm: MemoryManager) -> dict[str, int]:
    slot, _ = session_after_one_turn(mm)
    assert second_turn(mm, slot, new=80) is None  # no KV room: admission reverts
    return _reports(mm, idle=True)


SCENARIOS = {
    # fault -> (scenario, manager options, the expected signed difference per pool)
    "kv_double_free": (kv_double_free, dict(page_size=4, swa_slots=0, window=None,
                                            mamba_slots=0), {"full": -4}),
    "swa_skip_free": (swa_skip_free, dict(mamba_slots=0), {"swa": 15}),
    "session_close_leaks_mamba": (session_close_leaks_mamba, {}, {"mamba": 1}),
    # the lent slot's own part (2 decoded tokens past the 6 cached, 1 row, 1 working slot),
    # each counted once more than exists
    "session_double_count": (session_double_count, {}, {"full": -2, "swa": -2, "req": -1,
                                                        "mamba": -1}),
    "session_mamba_revert_free": (session_mamba_revert_free, {}, {"mamba": -1}),
}


def test_every_fault_point_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(FAULT_POINTS)


@pytest.mark.parametrize("fault", sorted(SCENARIOS))
def test_fault_is_reported_on_the_first_check(fault: str) -> None:
    scenario, options, expected = SCENARIOS[fault]
    mm = manager(fault, **options)
    assert scenario(mm) == expected
    kinds = {PoolName(pool): LeakKind.LEAK if diff > 0 else LeakKind.DOUBLE_FREE
             for pool, diff in expected.items()}
    assert {pool: kind for (pool, kind) in mm.leak_counts} == kinds


@pytest.mark.parametrize("fault", sorted(SCENARIOS))
def test_same_scenario_is_clean_without_the_fault(fault: str) -> None:
    scenario, options, _ = SCENARIOS[fault]
    mm = manager(**options)
    assert scenario(mm) == {}
    assert not mm.leak_counts


def test_unknown_fault_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown fault point.*known: session_mamba"):
        parse_faults(["kv_double_free", "nope"])


def test_new_leaks_carry_every_term() -> None:
    """The check that counts a leak keeps its report, with every term, in `new_leaks`."""
    mm = manager("swa_skip_free", mamba_slots=0)
    swa_skip_free(mm)
    (report,) = mm.new_leaks
    assert report.pool == "swa" and report.terms.capacity == 64 and report.difference == 15


def test_leak_policies_count_warn_and_raise(caplog: pytest.LogCaptureFixture) -> None:
    """count: counted silently; warn: also logged; raise: LeakDetected names pool and terms."""
    assert swa_skip_free(manager("swa_skip_free", mamba_slots=0)) == {"swa": 15}
    with caplog.at_level("WARNING"):
        swa_skip_free(manager("swa_skip_free", mamba_slots=0, on_leak=LeakPolicy.WARN))
    assert "swa: leak of 15 slots" in caplog.text
    with pytest.raises(LeakDetected, match="swa: leak of 15 slots"):
        swa_skip_free(manager("swa_skip_free", mamba_slots=0, on_leak=LeakPolicy.RAISE))


def test_idle_mode_skips_step_checks_and_off_skips_all() -> None:
    mm = manager("swa_skip_free", mamba_slots=0, check_mode=CheckMode.IDLE)
    assert swa_skip_free(mm) == {}  # a busy-time check does not run in idle mode
    mm = manager("kv_double_free", page_size=4, swa_slots=0, window=None, mamba_slots=0,
                 check_mode=CheckMode.OFF)
    assert kv_double_free(mm) == {} and not mm.leak_counts
