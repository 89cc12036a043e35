"""EngineTelemetry: the engine's steps, requests, sessions and leaks become log events and
metrics, with the field names the catalog declares."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from runtime.engine.engine import Engine
from runtime.engine.observability import ObservabilitySettings, attach_telemetry, instrument
from runtime.engine.telemetry import EngineTelemetry
from runtime.memory.memory_config import LeakPolicy
from runtime.scheduler.sampling_params import SamplingParams
from telemetry import catalog
from telemetry.logs.logging import LogSettings, configure_logging
from telemetry.metrics.meters import Metrics
from tests.support.engines import strict_engine

pytestmark = pytest.mark.usefixtures("fresh_logging")

GREEDY = SamplingParams(max_tokens=9, temperature=0, ignore_eos=True)
PROMPTS = [list(range(5, 5 + n)) for n in (12, 30, 7)]


def _engine(model: Path, **overrides: object) -> Engine:
    return strict_engine(model, **overrides)


def _events(logs: list[dict], name: str) -> list[dict]:
    return [e for e in logs if e["event"] == name]


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    text = generate_latest(metrics.registry).decode()
    return next(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_batches_requests_and_the_idle_check_are_logged(gemma3_dir: Path) -> None:
    """Each prefill step logs prefill_batch with SWA parts, decode_batch comes every
    `decode_log_interval` decode steps, every request logs request_finished, and going idle
    logs one passing idle_check with every pool's partition."""
    engine = _engine(gemma3_dir, max_running_requests=3)
    attach_telemetry(engine, EngineTelemetry(None, decode_log_interval=4))
    with capture_logs() as logs:
        engine.generate(PROMPTS, GREEDY)
    (prefill,) = _events(logs, "prefill_batch")  # all three fit one prefill step
    assert prefill["new_seq"] == 3 and prefill["new_token"] == 49 and prefill["cached_token"] == 0
    assert prefill["full_token"] == prefill["swa_token"] == 49
    assert "mamba_num" not in prefill and "gpu_token" not in prefill
    decodes = _events(logs, "decode_batch")
    assert len(decodes) == 8 // 4  # 9 tokens: 1 from prefill, 8 decode steps
    assert decodes[0]["running_req"] == 3 and decodes[0]["graph"] is False
    assert decodes[0]["gen_throughput"] > 0
    finished = _events(logs, "request_finished")
    assert sorted(e["prompt_tokens"] for e in finished) == [7, 12, 30]
    assert {e["finish_reason"] for e in finished} == {"length"}
    (idle,) = _events(logs, "idle_check")
    assert idle["ok"] is True and set(idle["pools"]) == {"full", "swa", "req"}


def test_a_leak_is_logged_with_every_term_and_counted(gemma3_dir: Path) -> None:
    """With a fault point on, the busy checker logs memory_leak with the partition and the signed
    difference, and the leak counter of that pool and kind goes up."""
    engine = _engine(gemma3_dir, on_leak=LeakPolicy.COUNT, faults=frozenset({"swa_skip_free"}))
    metrics = instrument(engine, "gemma", ObservabilitySettings())
    with capture_logs() as logs:
        engine.generate([list(range(3, 60))], GREEDY)
    leaks = _events(logs, "memory_leak")
    assert leaks and all(e["pool"] == "swa" and e["kind"] == "leak" for e in leaks)
    leak = leaks[0]
    terms = sum(leak[k] for k in ("available", "evictable", "protected", "session_held",
                                  "running"))
    assert leak["difference"] == leak["capacity"] - terms > 0
    assert leak["log_level"] == "error"
    assert _sample(metrics, "poolscope_memory_leaks_total", pool="swa", kind="leak") == len(leaks)
    assert _sample(metrics, "poolscope_memory_leaks_total", pool="full", kind="leak") == 0
    metrics.shutdown()


def test_retractions_are_logged_and_counted(nemotron_h_dir: Path) -> None:
    """A pool too small for every output retracts requests: each logs request_retracted and the
    retraction counter matches the engine's."""
    engine = _engine(nemotron_h_dir, full_tokens=90)
    metrics = instrument(engine, "nemotron", ObservabilitySettings())
    with capture_logs() as logs:
        engine.generate([list(range(10, 10 + n)) for n in (20, 25, 30)],
                        SamplingParams(max_tokens=12, temperature=0, ignore_eos=True))
    retracted = _events(logs, "request_retracted")
    assert len(retracted) == engine.counters.retracted > 0
    assert all(e["prompt_tokens"] >= 20 for e in retracted)
    assert _sample(metrics, "poolscope_requests_retracted_total") == len(retracted)
    metrics.shutdown()


def test_sessions_log_open_and_close(nemotron_h_dir: Path) -> None:
    """Opening and closing a session log session_opened and session_closed with the count."""
    engine = _engine(nemotron_h_dir)
    attach_telemetry(engine, EngineTelemetry(None))
    with capture_logs() as logs:
        sid = engine.open_session()
        engine.close_session(sid)
    opened, closed = _events(logs, "session_opened"), _events(logs, "session_closed")
    assert opened == [{"event": "session_opened", "session_id": sid, "open_sessions": 1,
                       "log_level": "info", "component": "poolscope.engine"}]
    assert closed[0]["reason"] == "client" and closed[0]["open_sessions"] == 0


def test_json_lines_on_disk_use_only_catalog_fields(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """The log file holds one JSON object per line, each a catalog event with an ISO UTC
    timestamp, a level, and only the fields the catalog declares for it."""
    stdout = io.StringIO()
    configure_logging(LogSettings(file=tmp_path / "logs" / "poolscope.jsonl"), stream=stdout)
    engine = _engine(nemotron_h_dir)
    metrics = instrument(engine, "nemotron", ObservabilitySettings(decode_log_interval=2))
    engine.generate(PROMPTS, GREEDY)
    metrics.shutdown()
    lines = (tmp_path / "logs" / "poolscope.jsonl").read_text().splitlines()
    assert lines == stdout.getvalue().splitlines()
    events = [orjson.loads(line) for line in lines]
    assert {e["event"] for e in events} >= {"prefill_batch", "decode_batch", "request_finished",
                                            "idle_check"}
    for event in events:
        assert list(event)[:3] == ["timestamp", "level", "event"]
        assert event["timestamp"].endswith("Z") and "T" in event["timestamp"]
        declared = set(catalog.event(event["event"]).fields) | {"component"}
        assert set(event) - {"timestamp", "level", "event"} <= declared, event


def test_host_tier_logs_gpu_and_cpu_tokens_and_exports_the_host_pool(nemotron_h_dir: Path) -> None:
    """With the host tier, batch lines carry gpu (device-resident) and cpu (host) token parts
    that equal the full and host pools' used slots, and the gauges include pool=host."""
    engine = _engine(nemotron_h_dir, host_tier=True, page_size=1, full_tokens=256,
                     host_recent_tokens=8, host_top_k_pages=2)
    metrics = instrument(engine, "nemotron", ObservabilitySettings(decode_log_interval=1))
    with capture_logs() as logs:
        engine.generate([list(range(3, 43))], GREEDY)
    decode = _events(logs, "decode_batch")[0]
    assert decode["cpu_token"] == 41 and 0 < decode["gpu_token"] < decode["cpu_token"]
    assert decode["gpu_token"] == decode["full_token"]
    assert _sample(metrics, "poolscope_pool_capacity", pool="host") > 0
    metrics.shutdown()
