"""Tests for telemetry.logs.text_layout: our events rendered in SGLang's human layout."""

from __future__ import annotations

import copy

import pytest

from telemetry import catalog
from telemetry.logs.text_layout import LABELS, render_text
from telemetry.logs.text_values import normalise_key

TS = "2026-11-21T10:00:00.123456Z"

DECODE = {
    "event": catalog.DECODE_BATCH.name, "timestamp": TS, "level": "info", "running_req": 4,
    "token": 812, "token_usage": 0.5, "kv_token_usage": 0.41, "full_token": 812,
    "full_token_usage": 0.41, "swa_token": 96, "swa_token_usage": 0.12, "mamba_num": 12,
    "mamba_usage": 0.5, "gpu_token": 10, "gpu_token_usage": 0.1, "cpu_token": 100,
    "cpu_token_usage": 0.2, "graph": False, "gen_throughput": 311.2, "queue_req": 0,
}


def test_decode_line_has_every_part_in_sglang_order() -> None:
    """A decode event with every pool renders SGLang's decode line, with two-decimal usages."""
    assert render_text(DECODE) == (
        f"[{TS}] Decode batch, #running-req: 4, #token: 812, token usage: 0.50, "
        "kv token usage: 0.41, #full token: 812, full token usage: 0.41, #swa token: 96, "
        "swa token usage: 0.12, mamba num: 12, mamba usage: 0.50, #gpu token: 10, "
        "gpu token usage: 0.10, #cpu token: 100, cpu token usage: 0.20, cuda graph: False, "
        "gen throughput (token/s): 311.20, #queue-req: 0"
    )


def test_absent_pools_leave_no_part() -> None:
    """Only the fields present in the dict appear: a plain model shows no pool parts."""
    event = {"event": catalog.DECODE_BATCH.name, "timestamp": TS, "running_req": 1,
             "token": 20, "token_usage": 0.25, "kv_token_usage": 0.25, "graph": True,
             "gen_throughput": 5.0, "queue_req": 2}
    assert render_text(event) == (
        f"[{TS}] Decode batch, #running-req: 1, #token: 20, token usage: 0.25, "
        "kv token usage: 0.25, cuda graph: True, gen throughput (token/s): 5.00, #queue-req: 2"
    )


def test_prefill_line_shows_hit_rate_as_percent_and_input_throughput() -> None:
    """A prefill event renders the cache hit rate as a percentage and the optional throughput."""
    event = {"event": catalog.PREFILL_BATCH.name, "timestamp": TS, "new_seq": 2,
             "new_token": 128, "cached_token": 64, "cache_hit_rate": 0.3333, "token": 200,
             "token_usage": 0.5, "kv_token_usage": 0.5, "running_req": 2, "queue_req": 1,
             "input_throughput": 1000.5}
    assert render_text(event) == (
        f"[{TS}] Prefill batch, #new-seq: 2, #new-token: 128, #cached-token: 64, "
        "cache hit rate: 33.33%, #token: 200, token usage: 0.50, kv token usage: 0.50, "
        "#running-req: 2, #queue-req: 1, input throughput (token/s): 1000.50"
    )


def test_memory_leak_line_names_pool_and_every_term() -> None:
    """A memory_leak event renders `[pool] memory leak detected!` and every partition term."""
    event = {
        "event": catalog.MEMORY_LEAK.name, "timestamp": TS, "level": "error", "pool": "mamba",
        "mode": "idle", "kind": "leak", "capacity": 16, "available": 10, "evictable": 2,
        "protected": 0, "session_held": 0, "running": 0, "difference": 4,
    }
    assert render_text(event) == (
        f"[{TS}] [mamba] memory leak detected! mode=idle, kind=leak, capacity=16, available=10, "
        "evictable=2, protected=0, session_held=0, running=0, difference=4"
    )


def test_other_event_is_level_name_and_pairs() -> None:
    """Other events render as LEVEL event key=value, quoting spaced strings, nesting as JSON."""
    event = {"event": catalog.REQUEST_FINISHED.name, "timestamp": TS, "level": "info",
             "rid": "r1", "error": "out of memory", "ttft_s": 0.5, "pools": {"full": [1, 2]},
             "session_id": None}
    assert render_text(event) == (
        f'[{TS}] INFO {catalog.REQUEST_FINISHED.name} rid=r1 error="out of memory" ttft_s=0.5 '
        'pools={"full":[1,2]} session_id=null'
    )


def test_extra_keys_follow_batch_part_as_pairs() -> None:
    """Keys that are no catalog field (model, logger) follow the SGLang part as key=value."""
    event = {"event": catalog.DECODE_BATCH.name, "running_req": 1, "queue_req": 0,
             "model": "tiny model", "logger": "poolscope.engine", "count": "7"}
    assert render_text(event) == (
        'Decode batch, #running-req: 1, #queue-req: 0 model="tiny model" '
        'logger=poolscope.engine count="7"'
    )


def test_no_timestamp_means_no_prefix_and_dict_is_not_mutated() -> None:
    """Without a timestamp the line starts with the message, and the input dict is unchanged."""
    event = {"event": catalog.SESSION_OPENED.name, "level": "info", "session_id": "s1"}
    before = copy.deepcopy(event)
    assert render_text(event) == f"INFO {catalog.SESSION_OPENED.name} session_id=s1"
    assert event == before


@pytest.mark.parametrize("field", sorted(LABELS))
def test_every_label_normalises_back_to_its_field(field: str) -> None:
    """Each SGLang label reads back, through the parser's key rule, as the field it renders."""
    assert normalise_key(LABELS[field]) == field


def test_every_batch_field_has_a_label() -> None:
    """Every catalog field of prefill_batch and decode_batch has a label in the layout."""
    fields = set(catalog.PREFILL_BATCH.fields) | set(catalog.DECODE_BATCH.fields)
    assert fields <= set(LABELS)
