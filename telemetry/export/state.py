"""What a log says now: the latest figures of its batch lines and the leaks it reported, kept
in constant memory for `poolscope logs export` to serve.

Pools from a batch line's parts (first hit per pool wins):

    full   #full token / full token usage; else HiSparse's #gpu token / gpu token usage (the
           device-resident tokens); else #token / token usage when the line has no SWA part
           (a plain or mamba line, where they are the full-attention KV)
    swa    #swa token / swa token usage
    mamba  mamba num / mamba usage
    host   HiSparse's #cpu token / cpu token usage (the host copy of the KV)

`token_usage` is the max of the line's full, swa and mamba usages (the catalog's definition, which
SGLang's own `token usage` does not follow in every version), `kv_token_usage` of full and swa. A
pool a line does not mention keeps its last figures. Leak lines count per pool and kind (see
`telemetry.logs.leak_terms`) and set the signed leaked slots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telemetry import catalog
from telemetry.logs.leak_terms import pool_leaks
from telemetry.logs.numeric_fields import as_number
from telemetry.logs.record import FieldValue, LogRecord

# (pool, slots-used field, usage field), in order of precedence.
_POOL_PARTS = (
    ("full", "full_token", "full_token_usage"),
    ("full", "gpu_token", "gpu_token_usage"),
    ("swa", "swa_token", "swa_token_usage"),
    ("mamba", "mamba_num", "mamba_usage"),
    ("host", "cpu_token", "cpu_token_usage"),
)
_PLAIN_PART = ("full", "token", "token_usage")
_SWA_FIELDS = ("swa_token", "swa_token_usage")
_KV_POOLS = ("full", "swa")


@dataclass
class LogState:
    """The latest figures (None: no line said it yet) and counts since the export started.
    Mutated only by `apply`; a reader on another thread takes the exporter's lock."""

    used: dict[str, int] = field(default_factory=dict)  # pool → slots in use
    usage: dict[str, float] = field(default_factory=dict)  # pool → usage in [0, 1]
    token_usage: float | None = None
    kv_token_usage: float | None = None
    num_running: int | None = None
    num_queued: int | None = None
    gen_throughput: float | None = None
    num_prompt_tokens: int = 0
    num_cached_tokens: int = 0
    # every pool and kind from the start, so that the first leak is an increase from 0
    leaks: dict[tuple[str, str], int] = field(
        default_factory=lambda: {(p, k): 0 for p in catalog.POOLS for k in catalog.LEAK_KINDS}
    )
    leaked_slots: dict[str, int] = field(default_factory=dict)

    def apply(self, record: LogRecord) -> None:
        """Takes in one record: batch figures replace the previous ones, leaks are counted."""
        if record.event == catalog.MEMORY_LEAK.name:
            self._apply_leak(record.fields)
            return
        fields = record.fields
        self._apply_pools(fields)
        running = _int(fields.get("running_req", fields.get("mixed_running_req")))
        self.num_running = running if running is not None else self.num_running
        queued = _int(fields.get("queue_req"))
        self.num_queued = queued if queued is not None else self.num_queued
        if record.event == catalog.DECODE_BATCH.name:
            throughput = as_number(fields.get("gen_throughput"))
            self.gen_throughput = throughput if throughput is not None else self.gen_throughput
        elif record.event == catalog.PREFILL_BATCH.name:
            self.num_prompt_tokens += _int(fields.get("new_token")) or 0
            self.num_cached_tokens += _int(fields.get("cached_token")) or 0

    def _apply_pools(self, fields: dict[str, FieldValue]) -> None:
        parts = _POOL_PARTS
        if not any(name in fields for name in _SWA_FIELDS):
            parts = (*_POOL_PARTS, _PLAIN_PART)
        seen: dict[str, float] = {}
        used_seen: set[str] = set()
        for pool, used_field, usage_field in parts:
            used = _int(fields.get(used_field))
            if used is not None and pool not in used_seen:
                self.used[pool] = used
                used_seen.add(pool)
            usage = as_number(fields.get(usage_field))
            if usage is not None and pool not in seen:
                self.usage[pool] = seen[pool] = usage
        if any(pool in seen for pool in catalog.TOKEN_USAGE_POOLS):
            self.token_usage = max(seen.get(p, 0.0) for p in catalog.TOKEN_USAGE_POOLS)
        if any(pool in seen for pool in _KV_POOLS):
            self.kv_token_usage = max(seen.get(p, 0.0) for p in _KV_POOLS)

    def _apply_leak(self, fields: dict[str, FieldValue]) -> None:
        for leak in pool_leaks(fields):
            self.leaks[leak.pool, leak.kind] += 1
            if leak.difference is not None:
                self.leaked_slots[leak.pool] = leak.difference


def _int(value: FieldValue | None) -> int | None:
    return value if type(value) is int else None
