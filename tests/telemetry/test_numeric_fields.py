"""Property tests for the numeric-field rule (issue 16): in a record read from any SGLang batch
line form the parser knows (and our text layout), every numeric field is a number or absent,
never text, whatever the line's end (trailing comma, spaces, CRLF) and wherever it is cut."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry import catalog
from telemetry.logs.numeric_fields import NUMERIC_FIELDS, is_number
from telemetry.logs.parse import LineCounts, iter_records, parse_line
from telemetry.logs.record import LogRecord
from telemetry.logs.text_layout import render_text

DECODE, PREFILL = catalog.DECODE_BATCH.name, catalog.PREFILL_BATCH.name
CATALOGUED = frozenset(f for f in (*catalog.DECODE_BATCH.fields, *catalog.PREFILL_BATCH.fields)
                       if f != "graph")


@dataclass(frozen=True)
class Part:
    """One `label: value` part as SGLang writes it, and the field it reads as."""

    label: str
    key: str
    shape: str  # int, usage (2 decimals), rate (2 decimals), percent, bool


INT, USAGE, RATE, PERCENT, BOOL = "int", "usage", "rate", "percent", "bool"
RUNNING, QUEUE = Part("#running-req", "running_req", INT), Part("#queue-req", "queue_req", INT)
PLAIN = [Part("#token", "token", INT), Part("token usage", "token_usage", USAGE)]
FULL = [Part("#full token", "full_token", INT), Part("full token usage", "full_token_usage", USAGE)]
SWA = [Part("#swa token", "swa_token", INT), Part("swa token usage", "swa_token_usage", USAGE)]
MAMBA = [Part("mamba num", "mamba_num", INT), Part("mamba usage", "mamba_usage", USAGE)]
HISPARSE = [Part("#gpu token", "gpu_token", INT), Part("gpu token usage", "gpu_token_usage", USAGE),
            Part("#cpu token", "cpu_token", INT), Part("cpu token usage", "cpu_token_usage", USAGE)]
POOLS = [PLAIN, FULL + SWA, FULL + MAMBA, FULL + SWA + MAMBA, HISPARSE, PLAIN + MAMBA]
GRAPH = Part("cuda graph", "graph", BOOL)
GEN = Part("gen throughput (token/s)", "gen_throughput", RATE)
ACCEPT = Part("accept len", "accept_len", RATE)
INPUT = Part("input throughput (token/s)", "input_throughput", RATE)
NEW = [Part("#new-seq", "new_seq", INT), Part("#new-token", "new_token", INT),
       Part("#cached-token", "cached_token", INT)]
HIT = Part("cache hit rate", "cache_hit_rate", PERCENT)
DISAGG = [Part("#prealloc-req", "prealloc_req", INT), Part("#inflight-req", "inflight_req", INT)]
EXTRA = [Part("#retracted-req", "retracted_req", INT),
         Part("pre-allocated usage", "pre_allocated_usage", USAGE)]
PREFIXES = ["", "[gpu=0] ", "[gpu_id=1] ", "[2024-08-10 10:00:00 TP0] ",
            "[2025-01-01 10:00:00,123 DP0 TP3] ", "[2026-11-21T10:00:00.123456Z] "]
ENDS = ["", ",", ", ", " ", "  ", ",  ", ", \t"]
LINE_ENDS = ["", "\n", "\r\n", "\r"]


@st.composite
def _values(draw: st.DrawFn, parts: list[Part]) -> list[tuple[Part, str]]:
    out = []
    for part in parts:
        if part.shape == INT:
            text = str(draw(st.integers(0, 10**7)))
        elif part.shape in (USAGE, RATE):
            top = 1.0 if part.shape == USAGE else 1e6
            text = f"{draw(st.floats(0, top, allow_nan=False)):.2f}"
        elif part.shape == PERCENT:
            text = f"{draw(st.floats(0, 100, allow_nan=False)):.2f}%"
        else:
            text = str(draw(st.booleans()))
        out.append((part, text))
    return out


@st.composite
def _sglang_lines(draw: st.DrawFn) -> tuple[str, str, list[tuple[Part, str]]]:
    """(event, the line without its end, its parts): a batch line of any SGLang era."""
    form = draw(st.sampled_from(["decode_2024", "decode_headless", "decode_comma",
                                 "prefill_2024", "prefill_mixed", "prefill_comma"]))
    pools = draw(st.sampled_from(POOLS))
    if form == "decode_2024":
        head, parts = "Decode batch. ", [RUNNING, *PLAIN, GEN, QUEUE]
    elif form == "decode_headless":
        head, parts = "", [RUNNING, *PLAIN, QUEUE]
    elif form == "decode_comma":
        iteration = draw(st.sampled_from(["", f" [{draw(st.integers(0, 10**6))}]"]))
        head = f"Decode batch{iteration}, "
        optional = draw(st.sampled_from([[], [ACCEPT], EXTRA]))
        parts = [RUNNING, *pools, *optional, GRAPH, GEN, QUEUE]
    elif form == "prefill_2024":
        head, parts = "Prefill batch. ", [*NEW, HIT, *PLAIN[1:], RUNNING, QUEUE]
    elif form == "prefill_mixed":
        head = f"Prefill batch(mixed #running-req: {draw(st.integers(0, 999))}). "
        parts = [*NEW, HIT, *PLAIN[1:], QUEUE]
    else:
        iteration = draw(st.sampled_from(["", f" [{draw(st.integers(0, 10**6))}]"]))
        usages = [p for p in pools if p.shape == USAGE]
        disagg = draw(st.sampled_from([[], DISAGG]))
        head = f"Prefill batch{iteration}, "
        parts = [*NEW, *usages, RUNNING, QUEUE, *disagg, INPUT]
    values = draw(_values(parts))
    body = ", ".join(f"{part.label}: {text}" for part, text in values)
    event = DECODE if form.startswith("decode") else PREFILL
    return event, draw(st.sampled_from(PREFIXES)) + head + body, values


def _expected(part: Part, text: str) -> float | int | bool:
    if part.shape == INT:
        return int(text)
    if part.shape == PERCENT:
        return float(text[:-1]) / 100
    if part.shape == BOOL:
        return text == "True"
    return float(text)


def _numbers_or_absent(record: LogRecord | None) -> None:
    """The rule: every numeric field present holds an int or a float (no bool, no text)."""
    if record is None:
        return
    for key, value in record.fields.items():
        if key in NUMERIC_FIELDS or key in CATALOGUED:
            assert is_number(value), f"{key}={value!r} in {record}"


def _read(line: str) -> list[LogRecord]:
    """The line read both ways: alone and as a one-line log."""
    records = list(iter_records([line], LineCounts()))
    assert records == ([] if parse_line(line) is None else [parse_line(line)])
    return records


@settings(max_examples=300, deadline=None)
@given(_sglang_lines(), st.sampled_from(ENDS), st.sampled_from(LINE_ENDS))
def test_every_form_reads_exact_numbers_whatever_its_end(
    generated: tuple[str, str, list[tuple[Part, str]]], end: str, line_end: str
) -> None:
    """A whole batch line of any form, ended by a comma, spaces or CRLF, reads every part as
    its exact typed value (`#queue-req: 5,` is 5, not "5,")."""
    event, line, values = generated
    (record,) = _read(line + end + line_end)
    assert record.event == event
    for part, text in values:
        got, want = record.fields[part.key], _expected(part, text)
        assert type(got) is type(want) and math.isclose(got, want, abs_tol=1e-9), part
    _numbers_or_absent(record)


@settings(max_examples=400, deadline=None)
@given(_sglang_lines(), st.sampled_from(ENDS), st.sampled_from(LINE_ENDS), st.data())
def test_a_line_cut_anywhere_keeps_numbers_as_numbers(
    generated: tuple[str, str, list[tuple[Part, str]]], end: str, line_end: str,
    data: st.DataObject,
) -> None:
    """Cut anywhere (a torn write, a full disk), with any end, a line yields numeric fields
    that are numbers, or leaves them out."""
    _, line, _ = generated
    whole = line + end
    cut = whole[: data.draw(st.integers(0, len(whole)))] + line_end
    for record in _read(cut):
        _numbers_or_absent(record)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(ENDS), st.sampled_from(LINE_ENDS), st.integers(0, 10**6), st.data())
def test_our_text_layout_keeps_numbers_whatever_its_end(
    end: str, line_end: str, queued: int, data: st.DataObject
) -> None:
    """Our text layout of a decode event reads the same numbers with any end, and a cut copy
    keeps numbers as numbers."""
    event = {"event": DECODE, "timestamp": "2026-11-21T10:00:00Z", "running_req": 3,
             "token": 812, "token_usage": 0.5, "kv_token_usage": 0.41, "mamba_num": 12,
             "mamba_usage": 0.5, "graph": True, "gen_throughput": 311.2,
             "queue_req": queued}
    line = render_text(event) + end
    (record,) = _read(line + line_end)
    assert record.fields["queue_req"] == queued and record.fields["token_usage"] == 0.5
    cut = line[: data.draw(st.integers(0, len(line)))]
    for cut_record in _read(cut + line_end):
        _numbers_or_absent(cut_record)


def test_odd_values_of_numeric_fields_are_left_out() -> None:
    """A numeric field whose value is no number (`nan`, a word, a stray comma) is absent; the
    other parts of the line still read."""
    record = parse_line(
        "Decode batch, #running-req: 4, #token: x12, token usage: nan, cuda graph: True, "
        "gen throughput (token/s): 1.5.2, #queue-req: 5,"
    )
    assert record is not None
    assert record.fields == {"running_req": 4, "graph": True, "queue_req": 5}
