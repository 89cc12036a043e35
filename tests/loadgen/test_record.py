"""Tests for runtime.loadgen.record: TTFT and inter-token latencies from chunk arrival times."""

from __future__ import annotations

import pytest

from runtime.loadgen.record import RecordBuilder, RequestRecord
from runtime.loadgen.sse import StreamChunk, Usage


def _build(chunks: list[tuple[float, StreamChunk]]) -> RequestRecord:
    builder = RecordBuilder(start_time=1000.0, start=10.0)
    for now, chunk in chunks:
        builder.take(chunk, now)
    return builder.build(end=15.0)


def test_ttft_is_the_first_chunk_with_text() -> None:
    """Time to first token skips chunks with empty text."""
    record = _build([(10.5, StreamChunk(text="")), (11.0, StreamChunk(text="a"))])
    assert record.ttft_s == pytest.approx(1.0)
    assert record.e2e_s == pytest.approx(5.0)
    assert record.start_time == 1000.0


def test_gaps_per_chunk_without_continuous_usage() -> None:
    """Without per-chunk usage, each gap between content chunks is one inter-token latency."""
    record = _build(
        [
            (11.0, StreamChunk(text="a")),
            (11.5, StreamChunk(text="b c")),
            (13.0, StreamChunk(text="d")),
            (13.5, StreamChunk(usage=Usage(4, 6))),
        ]
    )
    assert record.itl_s == pytest.approx((0.5, 1.5))
    assert (record.prompt_tokens, record.completion_tokens) == (4, 6)


def test_gap_divided_over_tokens_with_continuous_usage() -> None:
    """With usage on consecutive content chunks, a gap is split evenly over the tokens it added."""
    record = _build(
        [
            (11.0, StreamChunk(text="a", usage=Usage(4, 1))),
            (12.0, StreamChunk(text="b c", usage=Usage(4, 3))),
            (12.5, StreamChunk(text="d", usage=Usage(4, 4))),
        ]
    )
    assert record.itl_s == pytest.approx((0.5, 0.5, 0.5))
    assert record.completion_tokens == 4


def test_final_usage_alone_does_not_split_the_last_gap() -> None:
    """Usage on the last content chunk only (not the one before) leaves that gap whole."""
    record = _build(
        [
            (11.0, StreamChunk(text="a")),
            (12.0, StreamChunk(text="b", finish_reason="stop", usage=Usage(4, 9))),
        ]
    )
    assert record.itl_s == pytest.approx((1.0,))


def test_failed_record_keeps_the_message() -> None:
    """fail() makes the record not ok, carrying the last message given."""
    builder = RecordBuilder(0.0, 0.0)
    builder.fail("first")
    builder.fail("HTTP 503: busy")
    record = builder.build(1.0, is_session=True)
    assert not record.is_ok and record.error == "HTTP 503: busy" and record.is_session
    assert record.ttft_s is None and record.prompt_tokens is None


def test_record_requires_error_exactly_when_failed() -> None:
    """A record that is ok with an error, or failed without one, raises ValueError."""
    with pytest.raises(ValueError, match="error"):
        RequestRecord(0.0, None, (), 1.0, None, None, is_ok=True, error="x")
    with pytest.raises(ValueError, match="error"):
        RequestRecord(0.0, None, (), 1.0, None, None, is_ok=False)
