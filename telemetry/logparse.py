"""The log parser: our JSON lines, our text layout and SGLang's text lines of every era, into one
record type (LogRecord), streamed in constant memory.

    stats = ParseStats()
    for record in iter_records(read_lines("server.log"), stats):
        ...

JSON lines (objects with an `event` key) yield records for `decode_batch`, `prefill_batch` and
`memory_leak`; other events are counted in `num_other`. Text lines are read by
`telemetry.sglang_lines`. Unknown, garbled and truncated lines are counted in `num_skipped`,
never raised. A JSON line and the text line (`telemetry.text_layout`) of the same event convert
to equal records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from telemetry import catalog
from telemetry.log_record import SOURCE_POOLSCOPE, LogRecord
from telemetry.logfile import read_lines
from telemetry.sglang_lines import LeakNumbers, LineKind, read_text_line
from telemetry.text_values import compact_json

__all__ = ["LogRecord", "ParseStats", "convert", "iter_records", "parse_line"]

_SCALARS = frozenset((int, float, bool, str))  # what orjson gives besides None, dict and list
RECORD_EVENTS = frozenset(
    (catalog.DECODE_BATCH.name, catalog.PREFILL_BATCH.name, catalog.MEMORY_LEAK.name)
)


@dataclass
class ParseStats:
    """Counts over the lines read: every line is counted in `num_lines` and in exactly one of
    `num_blank`, `num_skipped` (unknown or truncated), `num_other` (a known event that is no
    batch or leak), `num_merged` (a 2024 leak warning folded into the next line's record) or
    `records` (per event name)."""

    num_lines: int = 0
    num_blank: int = 0
    num_skipped: int = 0
    num_other: int = 0
    num_merged: int = 0
    records: dict[str, int] = field(default_factory=dict)

    @property
    def num_records(self) -> int:
        return sum(self.records.values())

    def describe(self) -> str:
        """One line for humans, e.g. `1000 lines: 950 records (decode_batch 900, ...), ...`."""
        per_event = ", ".join(f"{name} {n}" for name, n in sorted(self.records.items()))
        return (
            f"{self.num_lines} lines: {self.num_records} records"
            + (f" ({per_event})" if per_event else "")
            + f", {self.num_other} other events, {self.num_skipped} skipped, "
            f"{self.num_blank} blank"
        )


def parse_line(line: str) -> LogRecord | None:
    """The record of one line (its line end may be present), or None when the line holds none.
    Stateless: the 2024 two-line leak form needs `iter_records` to attach the warning's numbers."""
    outcome = _read_line(line)
    return outcome if isinstance(outcome, LogRecord) else None


def iter_records(lines: Iterable[str], stats: ParseStats) -> Iterator[LogRecord]:
    """Lazily yields the record of each line that holds one, counting every line into `stats`
    (mutated as the generator advances). Never raises for the content of a line."""
    pending: LeakNumbers | None = None
    for line in lines:
        stats.num_lines += 1
        outcome = _read_line(line)
        if type(outcome) is LogRecord and pending is None:  # the common case, first
            stats.records[outcome.event] = stats.records.get(outcome.event, 0) + 1
            yield outcome
            continue
        if pending is not None:
            if isinstance(outcome, LogRecord) and outcome.event == catalog.MEMORY_LEAK.name:
                _merge(outcome, pending)
                stats.num_merged += 1
            else:
                stats.num_skipped += 1
            pending = None
        if isinstance(outcome, LogRecord):
            stats.records[outcome.event] = stats.records.get(outcome.event, 0) + 1
            yield outcome
        elif isinstance(outcome, LeakNumbers):
            pending = outcome
        else:
            _count(outcome, stats)
    if pending is not None:
        stats.num_skipped += 1


def convert(path: str | Path, out: IO[bytes], *, progress: bool = True) -> ParseStats:
    """Streams the log at `path` (`.gz` too) into `out` as JSON lines, one LogRecord.to_dict()
    per line, in constant memory; a progress bar goes to stderr when it is a terminal and
    `progress` is set. Raises OSError when `path` cannot be read."""
    stats = ParseStats()
    for record in iter_records(read_lines(path, progress=progress), stats):
        out.write(orjson.dumps(record.to_dict(), option=orjson.OPT_APPEND_NEWLINE))
    return stats


def _read_line(line: str) -> LogRecord | LeakNumbers | LineKind:
    text = line.rstrip("\r\n")
    stripped = text.lstrip()
    if not stripped:
        return LineKind.BLANK
    if stripped[0] == "{":
        return _read_json(stripped)
    return read_text_line(text)


def _read_json(text: str) -> LogRecord | LineKind:
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:  # truncated or not ours
        return LineKind.UNKNOWN
    if type(obj) is not dict or type(obj.get("event")) is not str:
        return LineKind.UNKNOWN
    if obj["event"] not in RECORD_EVENTS:
        return LineKind.OTHER
    event = obj.pop("event")
    timestamp = obj.pop("timestamp", None)
    obj.pop("level", None)
    if not _SCALARS.issuperset(map(type, obj.values())):  # checked in C; rarely true
        _flatten_odd(obj)
    return LogRecord(event, SOURCE_POOLSCOPE, timestamp if type(timestamp) is str else None, obj)


def _flatten_odd(obj: dict[str, Any]) -> None:
    """None values are left out, dicts and lists become the text layout's compact JSON."""
    odd = [key for key, value in obj.items() if type(value) not in _SCALARS]
    for key in odd:
        if obj[key] is None:
            del obj[key]
        else:
            obj[key] = compact_json(obj[key])


def _merge(record: LogRecord, pending: LeakNumbers) -> None:
    for key, value in pending.fields.items():
        record.fields.setdefault(key, value)


def _count(kind: LineKind, stats: ParseStats) -> None:
    if kind is LineKind.BLANK:
        stats.num_blank += 1
    elif kind is LineKind.OTHER:
        stats.num_other += 1
    else:
        stats.num_skipped += 1
