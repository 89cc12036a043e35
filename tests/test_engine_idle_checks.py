"""Idle checks: a memory change while the engine is idle (session close or expiry, an abort) is
checked at once, and an idle engine checks periodically unless `--idle-check-interval 0`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from runtime.engine.args import add_engine_args, config_from_args
from runtime.engine.config import EngineConfig
from runtime.engine.engine import Engine
from runtime.engine.observability import attach_telemetry
from runtime.engine.process import messages as m
from runtime.engine.telemetry import EngineTelemetry
from runtime.errors import EngineStopped
from runtime.memory.checker import CheckMode, LeakDetected, LeakKind
from runtime.memory.memory_config import LeakPolicy
from runtime.memory.pool_name import PoolName
from runtime.scheduler.sampling_params import SamplingParams
from tests.support import wait_until
from tests.support.core_loop import InProcessCore

GREEDY = SamplingParams(max_tokens=3, temperature=0, ignore_eos=True)


def _engine(model: Path, *faults: str, **overrides: object) -> Engine:
    config = EngineConfig(model=str(model), faults=frozenset(faults), **overrides)  # type: ignore[arg-type]
    engine = Engine.from_config(config)
    attach_telemetry(engine, EngineTelemetry(None))
    return engine


def _run_until_idle(engine: Engine) -> None:
    while engine.step():
        pass


def _session_with_a_turn(engine: Engine) -> str:
    sid = engine.open_session()
    engine.add_request(list(range(10, 30)), GREEDY, session_id=sid)
    _run_until_idle(engine)
    return sid


def _idle_checks(logs: list[dict]) -> list[dict]:
    return [e for e in logs if e["event"] == "idle_check"]


def test_a_session_closed_while_idle_is_checked_at_once(nemotron_h_dir: Path) -> None:
    """Closing a session on an idle engine runs the idle check: the leaked mamba slot is counted
    with no further step, and idle_check names the close as its trigger."""
    engine = _engine(nemotron_h_dir, "session_close_leaks_mamba")
    sid = _session_with_a_turn(engine)
    assert not engine.mm.leak_counts
    with capture_logs() as logs:
        engine.close_session(sid)
    assert engine.mm.leak_counts == {(PoolName.MAMBA, LeakKind.LEAK): 1}
    (check,) = _idle_checks(logs)
    assert check["trigger"] == "session_close" and check["ok"] is False
    assert [e["pool"] for e in logs if e["event"] == "memory_leak"] == ["mamba"]


def test_a_session_that_expires_while_idle_is_checked_at_once(nemotron_h_dir: Path) -> None:
    """An expired session's release is checked when it expires, not at the next request."""
    engine = _engine(nemotron_h_dir, "session_close_leaks_mamba", session_timeout_s=0.01)
    _session_with_a_turn(engine)
    time.sleep(0.05)
    with capture_logs() as logs:
        assert len(engine.expire_sessions()) == 1
    assert engine.mm.leak_counts == {(PoolName.MAMBA, LeakKind.LEAK): 1}
    assert [e["trigger"] for e in _idle_checks(logs)] == ["session_expiry"]


def test_a_busy_engine_leaves_the_check_to_its_steps(nemotron_h_dir: Path) -> None:
    """An abort while requests run checks nothing at once; going idle afterwards does."""
    engine = _engine(nemotron_h_dir)
    first = engine.add_request(list(range(10, 30)), GREEDY)
    engine.add_request(list(range(40, 60)), GREEDY)
    assert engine.step()
    checks = sum(engine.mm.check_counts.values())
    assert engine.abort(first.rid)
    assert sum(engine.mm.check_counts.values()) == checks
    _run_until_idle(engine)
    assert sum(engine.mm.check_counts.values()) > checks and not engine.mm.leak_counts


def test_the_periodic_check_finds_a_leak_no_event_reported(nemotron_h_dir: Path) -> None:
    """A slot lost outside any hooked event is counted by the next due periodic check, once:
    later periodic checks run (the checks counter grows) without counting or logging it again."""
    engine = _engine(nemotron_h_dir, idle_check_interval_s=0.001)
    _run_until_idle(engine)
    assert engine.mm.pools.mamba is not None
    engine.mm.pools.mamba.allocate(1)  # lost behind the manager's back
    with capture_logs() as logs:
        for _ in range(3):
            time.sleep(0.01)
            engine.idle_tick()
    assert engine.mm.leak_counts == {(PoolName.MAMBA, LeakKind.LEAK): 1}
    assert engine.mm.check_counts[(PoolName.MAMBA, CheckMode.IDLE)] == 3
    (check,) = _idle_checks(logs)  # only the check whose outcome changed is logged
    assert check["trigger"] == "periodic" and check["num_leaks"] == 1


def test_interval_zero_turns_the_periodic_check_off(nemotron_h_dir: Path) -> None:
    """With `idle_check_interval_s=0` an idle engine never checks on its own."""
    engine = _engine(nemotron_h_dir, idle_check_interval_s=0)
    _run_until_idle(engine)
    assert engine.mm.pools.mamba is not None
    engine.mm.pools.mamba.allocate(1)
    for _ in range(3):
        time.sleep(0.01)
        engine.idle_tick()
    assert not engine.mm.check_counts and not engine.mm.leak_counts


def test_the_engine_loop_runs_the_periodic_check(nemotron_h_dir: Path) -> None:
    """EngineCore's idle loop runs the due periodic check without any request coming."""
    engine = _engine(nemotron_h_dir, idle_check_interval_s=0.05)
    _run_until_idle(engine)
    assert engine.mm.pools.mamba is not None
    engine.mm.pools.mamba.allocate(1)  # lost behind the manager's back, before the loop runs
    with InProcessCore(engine) as core:
        wait_until(lambda: engine.mm.leak_counts == {(PoolName.MAMBA, LeakKind.LEAK): 1})
    assert core.error is None


@pytest.mark.parametrize(("value", "expected"), [("0", 0.0), ("2.5", 2.5)])
def test_idle_check_interval_flag_maps_onto_the_config(value: str, expected: float) -> None:
    """`--idle-check-interval S` sets the config's interval; 0 is accepted as off."""
    parser = argparse.ArgumentParser()
    add_engine_args(parser)
    config = config_from_args(parser.parse_args(["--idle-check-interval", value]))
    assert config.idle_check_interval_s == expected
    assert EngineConfig().idle_check_interval_s == 5.0


def test_a_negative_idle_check_interval_is_refused() -> None:
    """A negative interval is a configuration error naming the field."""
    with pytest.raises(ValueError, match="idle_check_interval_s must be >= 0"):
        EngineConfig(idle_check_interval_s=-1)


def test_a_leak_raised_by_an_idle_time_check_stops_the_loop(nemotron_h_dir: Path) -> None:
    """With `--on-leak raise`, a leak found by the check of a session close on an idle engine
    stops EngineCore's loop as a step's leak would, and the close's caller hears EngineStopped."""
    engine = _engine(nemotron_h_dir, "session_close_leaks_mamba", on_leak=LeakPolicy.RAISE)
    sid = _session_with_a_turn(engine)
    with InProcessCore(engine) as core:
        reply = core.call(m.CloseSession(1, sid))
        assert reply.error is not None and reply.error.kind == EngineStopped.__name__
        assert "memory invariant broken" in reply.error.message
        core.join()
    assert isinstance(core.error, LeakDetected)
