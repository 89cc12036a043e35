"""The log parser: our JSON lines, our text layout and SGLang's text lines of every era, into one
record type (LogRecord), streamed in constant memory.

    counts = LineCounts()
    for record in iter_records(read_lines("server.log"), counts):
        ...

JSON lines (objects with an `event` key) yield records for `decode_batch`, `prefill_batch` and
`memory_leak`; other events are counted in `num_other`. Text lines are read by
`telemetry.sglang.lines`. Unknown, garbled and truncated lines are counted in `num_skipped`,
never raised. A JSON line and the text line (`telemetry.logs.text_layout`) of the same event convert
to equal records.

SGLang's leak messages may span lines (the mamba or SWA terms, `[swa]`/`[mamba]` sections on
the lines after the first; see `telemetry.sglang.leaks`): `iter_records` holds a leak record
until a line comes that does not continue it, and folds the continuation lines into it. A
followed file hands on `None` when a read found nothing new (`telemetry.export.tail.follow`): the
continuation may still come in a later read, so a held record waits for `IDLE_READS_TO_FLUSH`
such reads in a row before it is let out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from telemetry import catalog
from telemetry.logs.files import read_lines
from telemetry.logs.record import SOURCE_POOLSCOPE, FieldValue, LogRecord
from telemetry.logs.text_values import compact_json
from telemetry.logs.unwrap import Unwrapper
from telemetry.sglang.leaks import read_continuation
from telemetry.sglang.lines import LeakNumbers, NoRecord, read_text_line

__all__ = ["LogRecord", "LineCounts", "convert", "iter_records", "parse_line", "read_records"]

IDLE_READS_TO_FLUSH = 5  # with `logs export`'s 0.2 s polls: a held leak waits about 1 s
_LEAK = catalog.MEMORY_LEAK.name
_TEXT_STARTS = frozenset("[#ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz/")

_SCALARS = frozenset((int, float, bool, str))  # what orjson gives besides None, dict and list
RECORD_EVENTS = frozenset(
    (catalog.DECODE_BATCH.name, catalog.PREFILL_BATCH.name, catalog.MEMORY_LEAK.name)
)


@dataclass
class LineCounts:
    """Counts over the lines read: every line is counted in `num_lines` and in exactly one of
    `num_blank`, `num_skipped` (unknown or truncated), `num_other` (a known event that is no
    batch or leak), `num_merged` (a 2024 leak warning folded into the next line's record, or a
    line that continues a leak message) or `records` (per event name)."""

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
    Stateless: the 2024 two-line leak form and the lines that continue a leak message need
    `iter_records`, which joins them to their record."""
    outcome = _read_line(line)
    return outcome if isinstance(outcome, LogRecord) else None


def iter_records(lines: Iterable[str | None], counts: LineCounts) -> Iterator[LogRecord]:
    """Lazily yields the record of each line that holds one, counting every line into `counts`
    (mutated as the generator advances); a leak message's continuation lines are folded into
    its record. A `None` item means "nothing new for now" (see the module docstring). Never
    raises for the content of a line."""
    joiner = _Joiner(counts)
    for line in lines:
        if line is None:
            yield from joiner.idle()
            continue
        counts.num_lines += 1
        if joiner.held is not None:
            if joiner.take(line):
                continue
            yield from joiner.release()
        if line[:1] in _TEXT_STARTS:  # neither JSON nor blank: a text line, read directly
            outcome = read_text_line(line.rstrip("\r\n"))
        else:
            outcome = _read_line(line)
        if type(outcome) is LogRecord and joiner.pending is None and outcome.event != _LEAK:
            counts.records[outcome.event] = counts.records.get(outcome.event, 0) + 1
            yield outcome  # the common case, first
        else:
            yield from joiner.add(outcome)
    yield from joiner.finish()


def read_records(lines: Iterable[str | None], counts: LineCounts) -> Iterator[LogRecord]:
    """`iter_records` of `lines` as a file holds them: the CRI or Docker json-file wrapping of
    each line, when it has one, taken off first, and the container time given to a record
    whose line had no time (`telemetry.logs.unwrap`)."""
    unwrapper = Unwrapper()
    return unwrapper.stamped(iter_records(unwrapper.lines(lines), counts))


class _Joiner:
    """The lines that belong to another: a 2024 leak warning (`pending`) lends its numbers to
    the leak line after it; a leak record (`held`) takes the lines that continue it."""

    def __init__(self, counts: LineCounts) -> None:
        self.counts = counts
        self.pending: LeakNumbers | None = None
        self.held: LogRecord | None = None
        self.num_idle = 0

    def add(self, outcome: LogRecord | LeakNumbers | NoRecord) -> Iterator[LogRecord]:
        """Takes the outcome of a line that continues no held record."""
        counts = self.counts
        if self.pending is not None:
            if isinstance(outcome, LogRecord) and outcome.event == _LEAK:
                _merge(outcome, self.pending.fields)
                counts.num_merged += 1
            else:
                counts.num_skipped += 1
            self.pending = None
        if isinstance(outcome, LogRecord):
            if outcome.event == _LEAK:
                self.held, self.num_idle = outcome, 0
            else:
                yield self._counted(outcome)
        elif isinstance(outcome, LeakNumbers):
            self.pending = outcome
        else:
            _count(outcome, counts)

    def take(self, line: str) -> bool:
        """Folds `line` into the held record when it continues it."""
        assert self.held is not None
        pairs = read_continuation(line.rstrip("\r\n"))
        if pairs is None:
            return False
        _merge(self.held, pairs)
        self.counts.num_merged += 1
        self.num_idle = 0
        return True

    def release(self) -> Iterator[LogRecord]:
        if self.held is not None:
            held, self.held = self.held, None
            yield self._counted(held)

    def idle(self) -> Iterator[LogRecord]:
        """A read found nothing new: after enough such reads, the held record is complete."""
        if self.held is not None:
            self.num_idle += 1
            if self.num_idle >= IDLE_READS_TO_FLUSH:
                yield from self.release()

    def finish(self) -> Iterator[LogRecord]:
        yield from self.release()
        if self.pending is not None:
            self.counts.num_skipped += 1
            self.pending = None

    def _counted(self, record: LogRecord) -> LogRecord:
        records = self.counts.records
        records[record.event] = records.get(record.event, 0) + 1
        return record


def convert(path: str | Path, out: IO[bytes], *, progress: bool = True) -> LineCounts:
    """Streams the log at `path` (`.gz` too; CRI or Docker-wrapped too) into `out` as JSON
    lines, one LogRecord.to_dict() per line, in constant memory; a progress bar goes to stderr
    when it is a terminal and `progress` is set. Raises OSError when `path` cannot be read."""
    counts = LineCounts()
    for record in read_records(read_lines(path, progress=progress), counts):
        out.write(orjson.dumps(record.to_dict(), option=orjson.OPT_APPEND_NEWLINE))
    return counts


def _read_line(line: str) -> LogRecord | LeakNumbers | NoRecord:
    text = line.rstrip("\r\n")
    stripped = text.lstrip()
    if not stripped:
        return NoRecord.BLANK
    if stripped[0] == "{":
        return _read_json(stripped)
    return read_text_line(text)


def _read_json(text: str) -> LogRecord | NoRecord:
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:  # truncated or not ours
        return NoRecord.UNKNOWN
    if type(obj) is not dict or type(obj.get("event")) is not str:
        return NoRecord.UNKNOWN
    if obj["event"] not in RECORD_EVENTS:
        return NoRecord.OTHER
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


def _merge(record: LogRecord, fields: dict[str, FieldValue]) -> None:
    """Adds `fields` to the record's; a key it has already keeps its value."""
    for key, value in fields.items():
        record.fields.setdefault(key, value)


def _count(line: NoRecord, counts: LineCounts) -> None:
    if line is NoRecord.BLANK:
        counts.num_blank += 1
    elif line is NoRecord.OTHER:
        counts.num_other += 1
    else:
        counts.num_skipped += 1
