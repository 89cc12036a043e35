"""Our `--log-format text` layout: one event dict as one human line in SGLang's layout.

    [2026-11-21T10:00:00.123Z] Decode batch, #running-req: 4, #token: 812, token usage: 0.50, ...
    [2026-11-21T10:00:00.123Z] [mamba] memory leak detected! mode=idle, kind=leak, capacity=16, ...
    [2026-11-21T10:00:00.123Z] INFO request_finished rid=r1 finish_reason=stop prompt_tokens=12

Batch parts follow the catalog's field order and appear only for fields the event carries (pool
parts only for pools the model has). Keys that are no catalog field of the event follow the
SGLang part as ` key=value`, so nothing is dropped silently. `telemetry.logs.parse` reads these
lines back into the same record as the JSON line of the same event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from telemetry import catalog
from telemetry.logs.logging import HEAD_KEYS
from telemetry.logs.text_values import format_value

# Field → SGLang's label (normalise_key(label) == field, which the tests check).
LABELS: dict[str, str] = {
    "running_req": "#running-req",
    "queue_req": "#queue-req",
    "new_seq": "#new-seq",
    "new_token": "#new-token",
    "cached_token": "#cached-token",
    "cache_hit_rate": "cache hit rate",
    "token": "#token",
    "token_usage": "token usage",
    "kv_token_usage": "kv token usage",
    "full_token": "#full token",
    "full_token_usage": "full token usage",
    "swa_token": "#swa token",
    "swa_token_usage": "swa token usage",
    "mamba_num": "mamba num",
    "mamba_usage": "mamba usage",
    "gpu_token": "#gpu token",
    "gpu_token_usage": "gpu token usage",
    "cpu_token": "#cpu token",
    "cpu_token_usage": "cpu token usage",
    "graph": "cuda graph",
    "gen_throughput": "gen throughput (token/s)",
    "input_throughput": "input throughput (token/s)",
}
_HEADERS = {catalog.DECODE_BATCH.name: "Decode batch", catalog.PREFILL_BATCH.name: "Prefill batch"}
_BATCH_FIELDS = {
    catalog.DECODE_BATCH.name: catalog.DECODE_BATCH.fields,
    catalog.PREFILL_BATCH.name: catalog.PREFILL_BATCH.fields,
}
LEAK_MARK = "memory leak detected!"


def render_text(event_dict: Mapping[str, Any]) -> str:
    """One line for one structlog event dict (keys `event`, `timestamp`, `level`, then fields);
    the dict is not mutated. Fields whose value is None are left out of batch and leak lines."""
    timestamp = event_dict.get("timestamp")
    prefix = f"[{timestamp}] " if timestamp is not None else ""
    name = event_dict.get("event")
    if name in _HEADERS:
        return prefix + _batch_line(name, event_dict)
    if name == catalog.MEMORY_LEAK.name:
        return prefix + _leak_line(event_dict)
    return prefix + _other_line(event_dict)


def _batch_line(name: str, event_dict: Mapping[str, Any]) -> str:
    fields = _BATCH_FIELDS[name]
    parts = [_part(f, event_dict[f]) for f in fields if event_dict.get(f) is not None]
    extras = "".join(f" {k}={format_value(v)}" for k, v in _extras(event_dict, fields))
    return f"{_HEADERS[name]}, " + ", ".join(parts) + extras


def _part(field: str, value: Any) -> str:
    label = LABELS[field]
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and field == "cache_hit_rate":
        return f"{label}: {value * 100:.2f}%"
    if is_number and field.endswith(("_usage", "_throughput")):
        return f"{label}: {value:.2f}"
    return f"{label}: {format_value(value)}"


def _leak_line(event_dict: Mapping[str, Any]) -> str:
    fields = catalog.MEMORY_LEAK.fields
    pool = event_dict.get("pool")
    head = f"[{pool}] {LEAK_MARK}" if pool is not None else LEAK_MARK
    named = [(f, event_dict[f]) for f in fields if f != "pool" and event_dict.get(f) is not None]
    pairs = named + list(_extras(event_dict, fields))
    body = ", ".join(f"{k}={format_value(v)}" for k, v in pairs)
    return f"{head} {body}" if body else head


def _other_line(event_dict: Mapping[str, Any]) -> str:
    level = event_dict.get("level")
    head = f"{str(level).upper()} " if level is not None else ""
    pairs = "".join(f" {k}={format_value(v)}" for k, v in event_dict.items() if k not in HEAD_KEYS)
    return f"{head}{event_dict.get('event', '')}{pairs}"


def _extras(event_dict: Mapping[str, Any], fields: Iterable[str]) -> Iterable[tuple[str, Any]]:
    known = set(fields) | set(HEAD_KEYS)
    return ((k, v) for k, v in event_dict.items() if k not in known and v is not None)
