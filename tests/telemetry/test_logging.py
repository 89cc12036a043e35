"""structlog configuration: JSON lines (or SGLang's text layout) to stdout and a file, with
context from contextvars and the standard library's records in the same layout."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import orjson
import pytest
import structlog

from telemetry.logs.logging import LogSettings, configure_logging, get_logger
from telemetry.logs.parse import parse_line

pytestmark = pytest.mark.usefixtures("fresh_logging")


def test_json_lines_carry_timestamp_level_event_and_bound_context() -> None:
    """An event renders as one JSON object: ISO UTC timestamp, level and event first, then the
    fields, the component and whatever contextvars bound (such as a request id)."""
    out = io.StringIO()
    configure_logging(LogSettings(), stream=out)
    with structlog.contextvars.bound_contextvars(request_id="cmpl-1"):
        get_logger("poolscope.test").info("session_opened", session_id="s1", open_sessions=1)
    (line,) = out.getvalue().splitlines()
    event = orjson.loads(line)
    assert list(event)[:3] == ["timestamp", "level", "event"]
    assert event["timestamp"].endswith("Z") and event["level"] == "info"
    assert event["request_id"] == "cmpl-1" and event["component"] == "poolscope.test"
    assert event["session_id"] == "s1"


def test_stdlib_records_share_the_layout_and_levels_filter() -> None:
    """A standard-library warning (uvicorn, the checker's warn mode) becomes a JSON line too;
    records below the configured level are dropped on both paths."""
    out = io.StringIO()
    configure_logging(LogSettings(level="warning"), stream=out)
    logging.getLogger("uvicorn.error").warning("port %d busy", 8000)
    logging.getLogger("uvicorn.error").info("dropped")
    get_logger("poolscope.test").info("dropped too")
    (line,) = out.getvalue().splitlines()
    event = orjson.loads(line)
    assert event["event"] == "port 8000 busy" and event["level"] == "warning"


def test_the_file_gets_the_same_lines_and_reconfiguring_closes_it(tmp_path: Path) -> None:
    """With a file set, every line goes to stdout and the file; a new configuration appends to
    the next file and leaves the old one closed and complete."""
    out, first, second = io.StringIO(), tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    configure_logging(LogSettings(file=first), stream=out)
    get_logger("t").info("idle_check", ok=True)
    configure_logging(LogSettings(file=second), stream=out)
    get_logger("t").info("idle_check", ok=False)
    assert len(first.read_text().splitlines()) == 1
    assert len(second.read_text().splitlines()) == 1
    assert len(out.getvalue().splitlines()) == 2


def test_text_layout_renders_sglang_lines_that_parse_back() -> None:
    """With format text, decode_batch prints SGLang's human line, and the parser reads it back
    into the numbers that were logged."""
    out = io.StringIO()
    configure_logging(LogSettings(format="text"), stream=out)
    get_logger("t").info(
        "decode_batch",
        running_req=4,
        token=812,
        token_usage=0.5,
        kv_token_usage=0.41,
        graph=False,
        gen_throughput=311.2,
        queue_req=0,
    )
    (line,) = out.getvalue().splitlines()
    assert "Decode batch, #running-req: 4, #token: 812, token usage: 0.50" in line
    record = parse_line(line)
    assert record is not None and record.event == "decode_batch"
    assert record.fields["running_req"] == 4 and record.fields["gen_throughput"] == 311.2


def test_bad_settings_are_refused() -> None:
    """An unknown format or level is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="json"):
        LogSettings(format="xml")
    with pytest.raises(ValueError, match="info"):
        LogSettings(level="loud")
