"""Tests for telemetry.logs.parse: every layout (our JSON and text lines, SGLang's lines of every
era) into one record type, with bad lines counted and never raised."""

from __future__ import annotations

import gzip
import inspect
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry import catalog
from telemetry.logs.parse import LineCounts, convert, iter_records, parse_line
from telemetry.logs.record import LogRecord
from telemetry.logs.text_layout import render_text
from telemetry.logs.text_values import normalise_key, parse_value

DECODE = catalog.DECODE_BATCH.name
PREFILL = catalog.PREFILL_BATCH.name
LEAK = catalog.MEMORY_LEAK.name
TS = "2026-11-21T10:00:00.123456Z"
D2024 = (
    "Decode batch. #running-req: 3, #token: 420, token usage: 0.21, "
    "gen throughput (token/s): 95.50, #queue-req: 1"
)
F2024 = {"running_req": 3, "token": 420, "token_usage": 0.21, "gen_throughput": 95.5,
         "queue_req": 1}


def _sglang(event: str, fields: dict, timestamp: str | None = None) -> LogRecord:
    return LogRecord(event, "sglang", timestamp, fields)


SGLANG_LINES = [
    pytest.param(D2024, _sglang(DECODE, F2024), id="2024-period"),
    pytest.param(f"[gpu=0] {D2024}", _sglang(DECODE, {"gpu": 0, **F2024}), id="2024-gpu-prefix"),
    pytest.param(f"[2024-08-10 10:00:00 TP0] {D2024}",
                 _sglang(DECODE, {"tp_rank": 0, **F2024}, "2024-08-10T10:00:00"),
                 id="2024-timestamp-tp"),
    pytest.param(f"[2024-08-10 10:00:00] {D2024}",
                 _sglang(DECODE, F2024, "2024-08-10T10:00:00"), id="2024-timestamp"),
    pytest.param(f"[2025-01-01 10:00:00 DP0 TP3] {D2024}, ",
                 _sglang(DECODE, {"dp_rank": 0, "tp_rank": 3, **F2024}, "2025-01-01T10:00:00"),
                 id="dp-tp-trailing-comma"),
    pytest.param(f"{D2024}, #retracted-req: 0, pre-allocated usage: 0.00",
                 _sglang(DECODE, {**F2024, "retracted_req": 0, "pre_allocated_usage": 0.0}),
                 id="trailing-parts"),
    pytest.param(
        "Decode batch, #running-req: 8, #token: 900, token usage: 0.44, cuda graph: True, "
        "gen throughput (token/s): 1200.00, #queue-req: 0, ",
        _sglang(DECODE, {"running_req": 8, "token": 900, "token_usage": 0.44, "graph": True,
                         "gen_throughput": 1200.0, "queue_req": 0}),
        id="2025-comma",
    ),
    pytest.param(
        "Decode batch [123], #running-req: 2, #token: 50, token usage: 0.02, accept len: 2.35, "
        "cuda graph: False, gen throughput (token/s): 88.10, #queue-req: 0, ",
        _sglang(DECODE, {"iteration": 123, "running_req": 2, "token": 50, "token_usage": 0.02,
                         "accept_len": 2.35, "graph": False, "gen_throughput": 88.1,
                         "queue_req": 0}),
        id="iteration-accept-len",
    ),
    pytest.param(
        "Decode batch, #running-req: 4, #full token: 812, full token usage: 0.41, "
        "#swa token: 96, swa token usage: 0.12, cuda graph: True, "
        "gen throughput (token/s): 311.20, #queue-req: 0, ",
        _sglang(DECODE, {"running_req": 4, "full_token": 812, "full_token_usage": 0.41,
                         "swa_token": 96, "swa_token_usage": 0.12, "graph": True,
                         "gen_throughput": 311.2, "queue_req": 0}),
        id="swa",
    ),
    pytest.param(
        "Decode batch, #running-req: 4, #token: 812, token usage: 0.50, mamba num: 12, "
        "mamba usage: 0.75, cuda graph: True, gen throughput (token/s): 40.00, #queue-req: 5",
        _sglang(DECODE, {"running_req": 4, "token": 812, "token_usage": 0.5, "mamba_num": 12,
                         "mamba_usage": 0.75, "graph": True, "gen_throughput": 40.0,
                         "queue_req": 5}),
        id="mamba",
    ),
    pytest.param(
        "Decode batch, #running-req: 1, #gpu token: 10, gpu token usage: 0.10, "
        "#cpu token: 100, cpu token usage: 0.20, cuda graph: False, "
        "gen throughput (token/s): 9.00, #queue-req: 0",
        _sglang(DECODE, {"running_req": 1, "gpu_token": 10, "gpu_token_usage": 0.1,
                         "cpu_token": 100, "cpu_token_usage": 0.2, "graph": False,
                         "gen_throughput": 9.0, "queue_req": 0}),
        id="hisparse",
    ),
    pytest.param(
        "[2024-08-10 10:00:01 TP0] Prefill batch. #new-seq: 1, #new-token: 7, "
        "#cached-token: 1, cache hit rate: 12.50%, token usage: 0.00, #running-req: 0, "
        "#queue-req: 0",
        _sglang(PREFILL, {"tp_rank": 0, "new_seq": 1, "new_token": 7, "cached_token": 1,
                          "cache_hit_rate": 0.125, "token_usage": 0.0, "running_req": 0,
                          "queue_req": 0}, "2024-08-10T10:00:01"),
        id="prefill-period-hit-rate",
    ),
    pytest.param(
        "Prefill batch(mixed #running-req: 3). #new-seq: 2, #new-token: 64, #cached-token: 0, "
        "cache hit rate: 0.00%, token usage: 0.30, #queue-req: 4",
        _sglang(PREFILL, {"mixed_running_req": 3, "new_seq": 2, "new_token": 64,
                          "cached_token": 0, "cache_hit_rate": 0.0, "token_usage": 0.3,
                          "queue_req": 4}),
        id="prefill-mixed",
    ),
    pytest.param(
        "Prefill batch [77], #new-seq: 1, #new-token: 512, #cached-token: 256, "
        "full token usage: 0.20, swa token usage: 0.10, #running-req: 5, #queue-req: 0, "
        "#prealloc-req: 2, #inflight-req: 1, input throughput (token/s): 20480.50, ",
        _sglang(PREFILL, {"iteration": 77, "new_seq": 1, "new_token": 512,
                          "cached_token": 256, "full_token_usage": 0.2, "swa_token_usage": 0.1,
                          "running_req": 5, "queue_req": 0, "prealloc_req": 2,
                          "inflight_req": 1, "input_throughput": 20480.5}),
        id="prefill-comma-disagg",
    ),
    pytest.param(
        "token_to_kv_pool_allocator memory leak detected! available_size=10, "
        "protected_size=0, self.max_total_num_tokens=100",
        _sglang(LEAK, {"pool": "full", "available_size": 10, "protected_size": 0,
                       "max_total_num_tokens": 100}),
        id="leak-kv",
    ),
    pytest.param(
        "[2025-03-01 12:00:00 TP0] Mamba memory leak detected! mamba_available_size=3, "
        "mamba_evictable_size=1, self.mamba_pool.size=16",
        _sglang(LEAK, {"pool": "mamba", "tp_rank": 0, "mamba_available_size": 3,
                       "mamba_evictable_size": 1, "mamba_pool.size": 16},
                "2025-03-01T12:00:00"),
        id="leak-mamba",
    ),
    pytest.param(
        "[swa] total=64, available=60, evictable=1, protected=0, session_held=0",
        _sglang(LEAK, {"pool": "swa", "total": 64, "available": 60, "evictable": 1,
                       "protected": 0, "session_held": 0}),
        id="per-pool-line",
    ),
]


@pytest.mark.parametrize(("line", "expected"), SGLANG_LINES)
def test_sglang_line_reads_as_exact_record(line: str, expected: LogRecord) -> None:
    """Each SGLang form reads as the record with exactly the expected fields and source."""
    assert parse_line(line) == expected


def test_2024_two_line_leak_gets_the_warning_numbers() -> None:
    """The 2024 `Warning: available_size=…` line lends its numbers to the next leak line."""
    lines = [
        "/srv/sglang/scheduler.py:312: UserWarning: Warning: available_size=10, "
        "max_total_num_tokens=100",
        "KV cache pool leak detected!",
    ]
    counts = LineCounts()
    records = list(iter_records(lines, counts))
    expected = {"pool": "full", "available_size": 10, "max_total_num_tokens": 100}
    assert records == [_sglang(LEAK, expected)]
    assert (counts.num_merged, counts.num_skipped, counts.records) == (1, 0, {LEAK: 1})


def test_warning_without_leak_line_is_skipped() -> None:
    """A leak warning not followed by a leak line is skipped, and the next line still reads."""
    counts = LineCounts()
    records = list(iter_records(["Warning: available_size=10", D2024, "Warning: x=1"], counts))
    assert records == [_sglang(DECODE, F2024)]
    assert (counts.num_lines, counts.num_skipped, counts.num_merged) == (3, 2, 0)


def test_json_batch_line_keeps_every_field_but_the_heads() -> None:
    """Our JSON line reads as a poolscope record with all fields but event/timestamp/level."""
    line = orjson.dumps({"event": DECODE, "timestamp": TS, "level": "info", "running_req": 2,
                         "token_usage": 0.5, "graph": True, "model": "tiny"}).decode()
    fields = {"running_req": 2, "token_usage": 0.5, "graph": True, "model": "tiny"}
    assert parse_line(line) == LogRecord(DECODE, "poolscope", TS, fields)


def test_json_other_events_are_counted_not_skipped() -> None:
    """JSON events other than batch and leak count as other events; objects without one skip."""
    lines = [
        orjson.dumps({"event": catalog.SERVER_STARTED.name, "url": "http://x"}).decode(),
        '{"no_event": 1}',
        "[1, 2, 3]",
        f"INFO {catalog.REQUEST_FINISHED.name} rid=r1 finish_reason=stop",
    ]
    counts = LineCounts()
    assert list(iter_records(lines, counts)) == []
    assert (counts.num_other, counts.num_skipped) == (2, 2)


def test_other_event_quoting_a_batch_header_is_no_batch() -> None:
    """A text line of another event whose string field mentions `Decode batch` is no record."""
    event = {
        "event": catalog.REQUEST_FINISHED.name,
        "level": "error",
        "error": "Decode batch, x: 1",
    }
    counts = LineCounts()
    assert list(iter_records([render_text(event)], counts)) == []
    assert counts.num_other == 1


@pytest.mark.parametrize(
    "line",
    [
        f'{{"event": "{DECODE}", "running_req": 4, "token_us',
        "Decode batch, #running-",
        "Decode batch size list: [1, 2, 4]",
        "\x00\x01\x02\xff\xfe garbage \x1b[31m",
        'INFO:     127.0.0.1:50312 - "POST /generate HTTP/1.1" 200 OK',
        "[2024-08-10 10:00:00 TP0] Load weight end. type=LlamaForCausalLM, avail mem=60.1 GB",
        "{{{{",
        "[",
        "Decode batch",
    ],
)
def test_unreadable_lines_are_skipped(line: str) -> None:
    """Garbage, binary-ish, foreign and truncated lines yield no record and count as skipped."""
    counts = LineCounts()
    assert list(iter_records([line], counts)) == []
    assert (counts.num_lines, counts.num_skipped) == (1, 1)


def test_line_cut_mid_part_keeps_what_it_has() -> None:
    """A decode line cut in the middle of a part reads the parts before the cut."""
    record = parse_line("Decode batch, #running-req: 4, #token: 812, token usa")
    assert record == _sglang(DECODE, {"running_req": 4, "token": 812})


def test_blank_lines_are_counted_apart() -> None:
    """Empty and whitespace-only lines count as blank, not skipped."""
    counts = LineCounts()
    assert list(iter_records(["", "   \n", "\t"], counts)) == []
    assert (counts.num_blank, counts.num_skipped) == (3, 0)


def _event_dicts() -> list[dict]:
    return [
        {"event": DECODE, "timestamp": TS, "level": "info", "running_req": 4, "token": 812,
         "token_usage": 0.5, "kv_token_usage": 0.41, "full_token": 812, "full_token_usage": 0.41,
         "swa_token": 96, "swa_token_usage": 0.12, "mamba_num": 12, "mamba_usage": 0.5,
         "gpu_token": 10, "gpu_token_usage": 0.1, "cpu_token": 100, "cpu_token_usage": 0.2,
         "graph": False, "gen_throughput": 311.2, "queue_req": 0, "model": "my model",
         "logger": "poolscope.engine", "tag": "42", "pools": {"full": [1, 2]}},
        {"event": PREFILL, "timestamp": TS, "level": "info", "new_seq": 2, "new_token": 128,
         "cached_token": 64, "cache_hit_rate": 0.3333, "token": 200, "token_usage": 0.5,
         "kv_token_usage": 0.5, "mamba_num": 3, "mamba_usage": 0.19, "running_req": 2,
         "queue_req": 1, "input_throughput": 4096.25},
        {"event": LEAK, "timestamp": TS, "level": "error", "pool": "mamba", "mode": "idle",
         "kind": "double_free", "capacity": 16, "available": 10, "evictable": 2, "protected": 0,
         "session_held": 0, "running": 6, "difference": -2},
    ]


@pytest.mark.parametrize("event", _event_dicts(), ids=lambda e: e["event"])
def test_text_and_json_layouts_of_one_event_read_the_same(event: dict) -> None:
    """The JSON line and the text line of the same event convert to equal poolscope records."""
    from_json = parse_line(orjson.dumps(event).decode())
    from_text = parse_line(render_text(event))
    assert from_json is not None and from_json.source == "poolscope"
    assert from_text == from_json


_USAGE = st.integers(0, 100).map(lambda n: n / 100)
_EXTRA_VALUES = st.one_of(
    st.integers(-(10**12), 10**12), st.booleans(), st.text(max_size=12),
    st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers(-99, 99), max_size=3),
)


@st.composite
def _decode_events(draw: st.DrawFn) -> dict:
    fields = {f: draw(_USAGE if f.endswith("_usage") else st.integers(0, 10**6))
              for f in catalog.USAGE_FIELDS if draw(st.booleans())}
    extras = draw(st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True),
                                  _EXTRA_VALUES, max_size=3))
    extras = {k: v for k, v in extras.items() if k not in catalog.DECODE_BATCH.fields}
    return {"event": DECODE, "timestamp": TS, "level": "info", **fields,
            "graph": draw(st.booleans()), "gen_throughput": draw(st.integers(0, 10**6)) / 100,
            "running_req": draw(st.integers(0, 999)), **extras}


@settings(max_examples=60, deadline=None)
@given(_decode_events())
def test_text_and_json_agree_on_random_decode_events(event: dict) -> None:
    """For any decode event, with odd extra strings and numbers, text and JSON read the same."""
    from_json = parse_line(orjson.dumps(event).decode())
    assert parse_line(render_text(event)) == from_json


def test_our_text_line_without_timestamp_or_kv_part_reads_as_sglang() -> None:
    """The documented source rule: no ISO timestamp and no kv part means the sglang source."""
    event = {"event": DECODE, "running_req": 1, "token_usage": 0.5, "queue_req": 0}
    with_kv = {**event, "kv_token_usage": 0.5}
    assert parse_line(render_text(event)).source == "sglang"
    assert parse_line(render_text(with_kv)).source == "poolscope"


def test_iter_records_is_lazy() -> None:
    """iter_records is a generator that pulls a line only when a record is asked for."""
    pulled: list[str] = []

    def lines() -> Iterator[str]:
        for line in [D2024, D2024, D2024]:
            pulled.append(line)
            yield line

    records = iter_records(lines(), LineCounts())
    assert inspect.isgenerator(records) and pulled == []
    next(records)
    assert len(pulled) == 1


def test_stats_account_for_every_line() -> None:
    """Every line lands in exactly one LineCounts count, and describe() names them."""
    opened = orjson.dumps({"event": catalog.SESSION_OPENED.name}).decode()
    lines = [D2024, "", "junk", opened, "Warning: available_size=1",
             "KV cache pool leak detected!", "[swa] total=1, available=0", "",
             "[full] total=2, available=1"]
    counts = LineCounts()
    list(iter_records(lines, counts))
    total = counts.num_blank + counts.num_skipped + counts.num_other + counts.num_merged
    assert counts.num_lines == total + counts.num_records == 9
    assert counts.records == {DECODE: 1, LEAK: 2} and counts.num_merged == 2
    assert counts.describe().startswith(f"9 lines: 3 records ({DECODE} 1, {LEAK} 2)")


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gz"])
def test_convert_streams_records_as_json_lines(tmp_path: Path, gzipped: bool) -> None:
    """convert writes one JSON object per record, timestamps included, from plain or gz files."""
    text = f"{D2024}\nnot a log line\n[2024-08-10 10:00:00 TP0] {D2024}\n".encode()
    path = tmp_path / ("log.gz" if gzipped else "log.txt")
    path.write_bytes(gzip.compress(text) if gzipped else text)
    out = BytesIO()
    counts = convert(path, out, progress=False)
    rows = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert rows[0] == {"event": DECODE, "source": "sglang", **F2024}
    assert rows[1]["timestamp"] == "2024-08-10T10:00:00" and rows[1]["tp_rank"] == 0
    assert (counts.num_lines, counts.num_skipped, counts.num_records) == (3, 1, 2)


def test_to_dict_leaves_out_a_missing_timestamp() -> None:
    """to_dict is flat: event, source, timestamp only when known, then the fields."""
    assert LogRecord(DECODE, "sglang", None, {"a": 1}).to_dict() == {
        "event": DECODE, "source": "sglang", "a": 1,
    }
    assert list(LogRecord(DECODE, "sglang", TS, {"a": 1}).to_dict()) == [
        "event", "source", "timestamp", "a",
    ]


@pytest.mark.parametrize(
    ("label", "key"),
    [("#running-req", "running_req"), ("gen throughput (token/s)", "gen_throughput"),
     ("input throughput (token/s)", "input_throughput"), ("#new-token", "new_token"),
     ("cache hit rate", "cache_hit_rate"), ("accept len", "accept_len"),
     ("full token usage", "full_token_usage"), ("cuda graph", "graph"),
     ("self.max_total_num_tokens", "max_total_num_tokens")],
)
def test_keys_normalise(label: str, key: str) -> None:
    """Labels lose `#`, units and `self.`, are lower-cased and joined with `_`."""
    assert normalise_key(label) == key


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12), ("-4", -4), ("0.50", 0.5), ("1e-05", 1e-05), ("True", True), ("False", False),
     ("12.50%", 0.125), ("33.33%", 0.3333), ("100%", 1.0), ('"a b"', "a b"), ("idle", "idle"),
     ("0.", 0.0)],
)
def test_values_are_typed(text: str, value: object) -> None:
    """Value text reads as int, float, bool, a fraction for percentages, or a string."""
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)
