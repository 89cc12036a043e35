"""Engine records: plain data that round-trips through msgpack (the engine process's wire format),
and that alone is enough for EngineTelemetry to produce the same metrics and logs."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import msgspec
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from runtime.engine.config import EngineConfig
from runtime.engine.engine import Engine
from runtime.engine.observability import ObservabilitySettings, instrument
from runtime.engine.observer import EngineObserver, Record, deliver
from runtime.engine.records import (
    RECORD_TYPES,
    EngineSnapshot,
    StepRecord,
)
from runtime.engine.telemetry import EngineTelemetry
from runtime.memory.checker import CheckMode
from runtime.memory.memory_config import LeakPolicy
from runtime.scheduler.batch import Phase
from runtime.scheduler.sampling_params import SamplingParams
from telemetry.metrics.meters import Metrics
from tests.engine.record_samples import ONE_OF_EACH


def _round_trip(record: Record) -> Record:
    return msgspec.msgpack.decode(msgspec.msgpack.encode(record), type=type(record))


def test_every_record_kind_round_trips_through_msgpack() -> None:
    """Each record type, every field set, decodes from msgpack equal to what was encoded."""
    assert {type(r) for r in ONE_OF_EACH} == set(RECORD_TYPES)
    for record in ONE_OF_EACH:
        assert _round_trip(record) == record


class _Wire(EngineObserver):
    """Encodes each record as the engine process would send it."""

    def __init__(self) -> None:
        self.sent: list[tuple[type, bytes]] = []

    def _send(self, record: Record) -> None:
        self.sent.append((type(record), msgspec.msgpack.encode(record)))

    on_step = on_idle = on_request_finished = on_session = on_leaks = _send  # type: ignore

    def received(self) -> list[Record]:
        return [msgspec.msgpack.decode(data, type=kind) for kind, data in self.sent]


def _samples(metrics: Metrics) -> dict[tuple, float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text) for s in f.samples
        if not s.name.endswith("_created") and "throughput" not in s.name
    }


def _without_throughput(logs: list[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "gen_throughput"} for e in logs]


def _serve_some(engine: Engine) -> None:
    engine.generate([list(range(5, 5 + n)) for n in (12, 30, 7)],
                    SamplingParams(max_tokens=6, temperature=0, ignore_eos=True))
    sid = engine.open_session()
    engine.add_request(list(range(10, 30)), SamplingParams(max_tokens=3, temperature=0),
                       session_id=sid)
    while engine.step():
        pass
    engine.close_session(sid)  # the fault loses a mamba slot: a leak record


def test_decoded_records_alone_give_telemetry_the_same_metrics_and_logs(
    nemotron_h_dir: Path,
) -> None:
    """A second EngineTelemetry fed only the decoded records (and the decoded first snapshot)
    ends with the same metric samples and log events as the one attached to the engine."""
    config = EngineConfig(model=str(nemotron_h_dir), mem_check=CheckMode.BUSY,
                          on_leak=LeakPolicy.COUNT,
                          faults=frozenset({"session_close_leaks_mamba"}))
    engine = Engine.from_config(config)
    live = instrument(engine, "m", ObservabilitySettings(decode_log_interval=2))
    first = msgspec.msgpack.encode(engine.snapshot())
    wire = _Wire()
    engine.observers.append(wire)
    with capture_logs() as live_logs:
        _serve_some(engine)
    replay = Metrics(live.settings)
    consumer = EngineTelemetry(replay, decode_log_interval=2)
    consumer.publish(msgspec.msgpack.decode(first, type=EngineSnapshot))
    with capture_logs() as replay_logs:
        for record in wire.received():
            deliver(consumer, record)
    assert {kind for kind, _ in wire.sent} == set(RECORD_TYPES)
    assert {e["event"] for e in live_logs} >= {"memory_leak", "session_closed", "idle_check"}
    assert _without_throughput(replay_logs) == _without_throughput(live_logs)
    assert _samples(replay) == _samples(live)
    live.shutdown()
    replay.shutdown()


def test_a_decode_step_record_grows_with_its_batch_only_by_latency_samples(
    nemotron_h_dir: Path,
) -> None:
    """Without its TTFT/ITL samples, a decode step of three requests encodes to about the size
    of a decode step of one (only figures differ, no per-request entries)."""
    engine = Engine.from_config(EngineConfig(model=str(nemotron_h_dir)))
    wire = _Wire()
    engine.observers.append(wire)
    for n in (4, 4, 8):
        engine.add_request(list(range(5, 15)),
                           SamplingParams(max_tokens=n, temperature=0, ignore_eos=True))
    while engine.step():
        pass
    steps = [r for r in wire.received()
             if isinstance(r, StepRecord) and r.phase is Phase.DECODE]
    by_batch = {r.num_reqs: _size_without_samples(r) for r in steps}
    assert set(by_batch) == {1, 3}
    assert abs(by_batch[3] - by_batch[1]) <= 8


def _size_without_samples(record: StepRecord) -> int:
    return len(msgspec.msgpack.encode(dataclasses.replace(record, ttfts=(), itls=())))


def test_the_record_module_loads_without_torch() -> None:
    """A frontend process can decode records without importing torch or the scheduler."""
    code = ("import sys, runtime.engine.records; "
            "assert 'torch' not in sys.modules and 'runtime.scheduler.request' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
