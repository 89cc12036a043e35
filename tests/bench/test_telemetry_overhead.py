"""The telemetry overhead benchmark, in quick mode: structure only, no timing assertions."""

from __future__ import annotations

import pytest

from runtime.bench.telemetry_overhead import MODES, run
from runtime.engine.config import EngineConfig
from runtime.engine.process.child import engine_process_config


@pytest.mark.slow
def test_quick_run_alternates_modes_and_sends_records_to_the_frontend_process() -> None:
    """A quick run alternates off/on/on-every-step blocks, forwards and sends one step record per
    on-mode step to the consumer process (none when off), reports measured figures, and records
    that its engine ran with the torch threads of serve's engine process."""
    result = run(quick=True)
    assert result.is_quick and result.name == "telemetry"
    details = result.details
    assert details["num_cycles"] >= 2
    assert details["block_order"] == list(MODES) * details["num_cycles"]
    by_mode = {row["mode"]: row for row in result.rows}
    assert list(by_mode) == list(MODES)
    for mode, row in by_mode.items():
        assert row["steps"] > 0 and row["median ms"] > 0 and row["min ms"] > 0
        is_on = mode != "off"
        assert (row["step-side ms"] > 0) == is_on
        assert (row["frontend ms/record"] > 0) == is_on
    # Records reach the frontend only from their own mode's blocks (the profile of a missed
    # target adds steps to on_every_step's consumer).
    assert details["num_records"]["on"] == by_mode["on"]["steps"]
    assert details["num_records"]["on_every_step"] >= by_mode["on_every_step"]["steps"]
    assert details["num_log_lines"] >= by_mode["on_every_step"]["steps"]
    assert details["num_scrapes"] > 0
    for mode in ("on", "on_every_step"):
        assert details["frontend_record_median_ms"][mode] > 0
        assert details["frontend_cpu_ms_per_record"][mode] > 0
        assert details["frontend_replay_ms_per_record"][mode] > 0
    serve_default = engine_process_config(EngineConfig(model="default")).torch_threads
    assert details["engine_torch_threads"]["intra_op"] == serve_default
    assert [t.limit for t in result.targets] == [1.0, 2.0]
    assert all(t.op == "<=" and t.note for t in result.targets)
