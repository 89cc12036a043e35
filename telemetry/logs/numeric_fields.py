"""The fields of batch and leak records that hold numbers: the parser gives each of them as an
int or a float, or leaves it out, never as text (a value cut short, followed by a stray comma or
otherwise garbled is dropped rather than kept as a string)."""

from __future__ import annotations

from telemetry import catalog

# SGLang parts beside the catalog's fields (normalised keys), all numbers in every era.
_SGLANG_NUMBERS = (
    "iteration", "mixed_running_req", "accept_len", "accept_rate", "retracted_req",
    "pre_allocated_usage", "prealloc_req", "inflight_req", "transfer_req", "grammar_req",
    "input_throughput", "spec_accept_length", "spec_accept_rate", "num_running_reqs",
)

NUMERIC_FIELDS: frozenset[str] = frozenset(
    (
        *(f for f in catalog.PREFILL_BATCH.fields if f != "graph"),
        *(f for f in catalog.DECODE_BATCH.fields if f != "graph"),
        *catalog.PARTITION_FIELDS,
        "difference",
        *_SGLANG_NUMBERS,
    )
)


# Numeric fields whose values repeat within a log (usages have two decimals, request counts are
# small): the parser's value memo hits for them, which is cheaper than converting the text.
REPEATING_FIELDS: frozenset[str] = frozenset(
    (
        *(f for f in NUMERIC_FIELDS if f.endswith("_usage")),
        "running_req", "queue_req", "new_seq", "mamba_num", "mixed_running_req", "accept_len",
        "retracted_req", "prealloc_req", "inflight_req", "transfer_req", "grammar_req",
    )
)


def is_number(value: object) -> bool:
    """An int or a float, and no bool (which Python counts as an int)."""
    return type(value) is int or type(value) is float


def as_number(value: object) -> float | None:
    """`value` as a float when it is a number (`is_number`), else None (absent, text, a bool)."""
    return float(value) if is_number(value) else None  # type: ignore[arg-type]
