"""Human log lines into LogRecords: SGLang's lines of every era, and our text layout (which is
SGLang's layout with an ISO timestamp).

Forms read: the early 2024 decode line without a header (`#running-req: …`), `Decode batch. …`
(2024, periods) and `Decode batch, …` (2025+, commas), each with an optional iteration (`Decode
batch [123], …`); `Prefill batch` lines, also with `(mixed #running-req: N)`; any mix of plain,
SWA, mamba and HiSparse parts (the body is read by a general `key: value` scanner, see
`telemetry.logs.text_values`); the first line of a leak message (`telemetry.sglang.leaks`; the lines
that continue it are joined by `telemetry.logs.parse`), the 2024 pair `Warning: available_size=…` +
`KV cache pool leak detected!`, and per-pool lines `[full] total=100, available=90, …` whose terms
do not add up. Prefixes before the message: `[gpu=0]`, `[gpu_id=0]`, `[2024-08-10 10:00:00 TP0]`,
`[2025-01-01 10:00:00 DP0 TP3]`, `[2026-11-21T10:00:00.123456Z]`; rank tags become fields
(`tp_rank`, `dp_rank`, …) and `[gpu=N]` the field `gpu`. The common batch line is read by one
whole-line template (`telemetry.logs.pair_templates`) once its form has been seen.

Source rule: a line is ours (`poolscope`) when its timestamp bracket holds exactly an ISO-8601
timestamp with `T` (our layout; SGLang writes a space), or when it has a `kv token usage` part
(SGLang has none); otherwise it is `sglang`. Our text line without a timestamp and without a kv
part therefore reads as `sglang`; its fields are read the same either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

from telemetry import catalog
from telemetry.logs.leak_terms import pool_leaks
from telemetry.logs.pair_templates import Reader, Spec
from telemetry.logs.record import SOURCE_POOLSCOPE, SOURCE_SGLANG, FieldValue, LogRecord
from telemetry.logs.text_layout import LABELS
from telemetry.logs.text_values import TEMPLATES, scan_pairs
from telemetry.sglang.leaks import HEADER, message_fields


class NoRecord(Enum):
    """What a line that yields no record was: blank, a known event that is no batch or leak
    (counted, not an error), or unknown (skipped)."""

    BLANK = "blank"
    OTHER = "other"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LeakNumbers:
    """The `Warning: available_size=10, max_total_num_tokens=100` line SGLang (2024) printed just
    before `KV cache pool leak detected!`: its numbers belong to the next line's record."""

    fields: dict[str, FieldValue]


@dataclass
class _Prefix:
    """What the bracketed prefixes before a message say."""

    timestamp: str | None = None
    is_ours: bool = False
    fields: dict[str, FieldValue] = field(default_factory=dict)
    word: str | None = None  # a bare lower-case `[word]`, e.g. the pool of a leak line


_HEADER = re.compile(rf"(?<!\S)(Decode|Prefill) batch|{HEADER}")  # a message starts it
# NOTE: `(?:X|)` rather than `(?:X)?` and `\d\d` rather than `\d{2}`: the same matches, but
# re's engine runs an optional group as a loop, with much more work per line than a branch.
_BATCH_TAIL = re.compile(
    r"[ \t]*(?:\[(\d+)\]|)[ \t]*(?:\(mixed #running-req:[ \t]*(\d+)\)|)[ \t]*[.,]"
)
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_HEADLESS_DECODE = "#running-req: "  # SGLang's first decode line (early 2024) had no header
_TIMESTAMP = re.compile(
    r"(\d\d\d\d-\d\d-\d\d)([T ])(\d\d:\d\d:\d\d(?:[.,]\d+|)(?:Z|[+-]\d\d:?\d\d|))"
)
# The common batch line in one anchored match instead of a search of the whole line: no bracket,
# one timestamp bracket (groups as _TIMESTAMP.match of its content, then the rest) or a 2024
# `[gpu=N]`/`[gpu_id=N]` bracket (name, number), one space, then the header with _BATCH_TAIL's
# groups, or no header before `#running-req: ` (the early 2024 decode line).
_FAST_BATCH = re.compile(
    rf"(?:\[{_TIMESTAMP.pattern}([^\[\]]*)\] |\[(gpu|gpu_id)=(\d+)\] |)"
    rf"(?:(Decode|Prefill) batch{_BATCH_TAIL.pattern}|(?={_HEADLESS_DECODE}))"
)
_NUM_FAST_GROUPS = _FAST_BATCH.groups
# Whole-line templates (see `telemetry.logs.pair_templates`): _FAST_BATCH's pattern followed by one
# branch per learned label template, each closed by an empty marker group, so that the common
# line is read by one fullmatch that reads the prefix once; `lastindex` (the marker, the last
# group closed) names the branch's reader and whether its labels hold the kv part.
_CACHE_LINES = 8


@dataclass
class _LineForms:
    """The whole-line templates of the most recently learned batch-line forms, newest first."""

    specs: list[Spec] = field(default_factory=list)
    pattern: re.Pattern[str] | None = None
    readers: dict[int, tuple[Reader, bool]] = field(default_factory=dict)

    def learn(self, spec: Spec) -> None:
        """Adds the form of the label template `spec` (the oldest beyond _CACHE_LINES goes)."""
        if spec in self.specs:
            return
        self.specs.insert(0, spec)
        del self.specs[_CACHE_LINES:]
        branches, self.readers, offset = [], {}, _NUM_FAST_GROUPS
        for known in self.specs:
            text, reader = TEMPLATES.branch(known, offset)
            offset += len(known[0]) + 1  # its value groups, then its marker
            branches.append(f"{text}()")
            has_kv_part = any(f"{label}:".endswith(_KV_PART) for label in known[0])
            self.readers[offset] = (reader, has_kv_part)
        self.pattern = re.compile(f"{_FAST_BATCH.pattern}(?:{'|'.join(branches)})")

    def clear(self) -> None:
        self.specs.clear()
        self.pattern = None
        self.readers = {}


_LINE_FORMS = _LineForms()
_PLAIN_RESTS: dict[str, bool] = {}
_RANKS_AFTER: dict[str, tuple[tuple[str, int], ...]] = {}
_CACHE_SIZE = 256
_RANK = re.compile(r"\b([A-Z]{2,4})(\d+)\b")
_WORD = re.compile(r"[a-z][a-z_]*")
_POOL_LINE = re.compile(rf"\[({'|'.join(catalog.POOLS)})\][ \t]+(?=[A-Za-z_.]+=)")
_CHECK_LOG = "[Mem Check"  # SGLang's busy-check trace lines: the figures of a check, no leak
_LEVEL_EVENT = re.compile(r"(?:^|\] )(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+)")
_EVENT_NAMES = frozenset(spec.name for spec in catalog.EVENTS)
_KV_PART = LABELS["kv_token_usage"] + ":"
_DECODE, _PREFILL = catalog.DECODE_BATCH.name, catalog.PREFILL_BATCH.name
_WARNING = "Warning:"


def read_text_line(line: str) -> LogRecord | LeakNumbers | NoRecord:
    """One human line (no trailing newline) → its record, the numbers of a 2024 leak warning, or
    which sort of line it was. Never raises; a truncated line yields what it holds."""
    forms = _LINE_FORMS.pattern
    match = forms.fullmatch(line) if forms is not None else None
    if match is not None:
        groups = match.groups()
        rest = groups[3]
        if not rest or _PLAIN_RESTS.get(rest) or _is_plain_rest(rest):
            reader, has_kv_part = _LINE_FORMS.readers[match.lastindex]  # type: ignore[index]
            # the kv part can only end a label (values hold no `:`) or sit in the bracket
            is_ours = has_kv_part or (rest is not None and _KV_PART in rest)
            return _fast_record(groups, reader(groups), is_ours)
    fast = _FAST_BATCH.match(line)
    if fast is not None and _is_plain_rest(fast.group(4)):
        TEMPLATES.last_hit = None  # set again only when a label template reads the parts
        pairs = scan_pairs(line, fast.end())
        if not pairs:
            return NoRecord.UNKNOWN
        if TEMPLATES.last_hit is not None:
            _LINE_FORMS.learn(TEMPLATES.last_hit)
        return _fast_record(fast.groups(), pairs, _KV_PART in line)
    header = _HEADER.search(line)
    if header is None:
        return _read_headless(line)
    prefix = _read_prefix(line[: header.start()])
    if header.group(1) is None:
        return _leak_record(line, header, prefix)
    tail = _BATCH_TAIL.match(line, header.end())
    if tail is None:  # e.g. "Decode batch size list: …" is no batch line
        return NoRecord.UNKNOWN
    return _batch_record(line, tail.end(), header.group(1), tail.groups(), prefix)


def _fast_record(
    groups: tuple[str | None, ...], pairs: dict[str, FieldValue], is_ours: bool
) -> LogRecord:
    """The record of a batch line that `_FAST_BATCH` (or a whole-line template behind it)
    matched, whose `groups` start with _FAST_BATCH's and whose parts read as `pairs`; `is_ours`
    when the line has a kv part. As one call with no Python call on the common path (see
    `runtime.bench.parser_speed`)."""
    date = groups[0]
    if date is None:
        timestamp = None
        if groups[4] is not None:  # [gpu=N] / [gpu_id=N]
            pairs[groups[4]] = int(groups[5])  # type: ignore[arg-type]
    else:
        clock: str = groups[2]  # type: ignore[assignment]
        rest = groups[3]
        if not rest and groups[1] == "T":  # our layout: kept exactly as written
            is_ours = True
        elif "," in clock:
            clock = clock.replace(",", ".")
        if rest:  # rank tags after the pairs: a dict's order carries no meaning
            ranks = _RANKS_AFTER.get(rest) if rest[0] == " " else None
            pairs.update(_ranks(groups[2][-1] + rest) if ranks is None else ranks)  # type: ignore[index]
        timestamp = f"{date}T{clock}"
    if groups[7] is not None:
        pairs["iteration"] = int(groups[7])
    if groups[8] is not None:
        pairs["mixed_running_req"] = int(groups[8])
    return LogRecord(
        _PREFILL if groups[6] == "Prefill" else _DECODE,
        SOURCE_POOLSCOPE if is_ours else SOURCE_SGLANG,
        timestamp,
        pairs,
    )


def _is_plain_rest(rest: str | None) -> bool:
    """Whether a timestamp bracket's rest (` DP0 TP3`) holds no message header: a header inside
    the bracket is left to `_HEADER`, which stops at the first one. Cached: a log repeats it."""
    if not rest:
        return True
    known = _PLAIN_RESTS.get(rest)
    if known is None:
        known = "batch" not in rest and _HEADER.search(rest) is None
        if len(_PLAIN_RESTS) >= _CACHE_SIZE:
            _PLAIN_RESTS.clear()
        _PLAIN_RESTS[rest] = known
    return known


def _batch_record(
    line: str, body: int, name: str, tail: tuple[str | None, ...], prefix: _Prefix
) -> LogRecord | NoRecord:
    """The record of a batch line whose header `name` (Decode/Prefill) and tail (iteration,
    mixed running requests) are read and whose parts start at `body`."""
    pairs = scan_pairs(line, body)
    if not pairs:
        return NoRecord.UNKNOWN
    fields = prefix.fields
    iteration, mixed = tail
    if iteration is not None:
        fields["iteration"] = int(iteration)
    if mixed is not None:
        fields["mixed_running_req"] = int(mixed)
    fields.update(pairs)
    event = _DECODE if name == "Decode" else _PREFILL
    is_ours = prefix.is_ours or _KV_PART in line
    return LogRecord(
        event, SOURCE_POOLSCOPE if is_ours else SOURCE_SGLANG, prefix.timestamp, fields
    )


def _leak_record(line: str, header: re.Match[str], prefix: _Prefix) -> LogRecord:
    fields = message_fields(line, header.end(), line[: header.start()], prefix.word)
    if "pool" in fields:  # first, as it always was
        fields = {"pool": fields.pop("pool"), **prefix.fields, **fields}
    else:
        fields = {**prefix.fields, **fields}
    source = SOURCE_POOLSCOPE if prefix.is_ours else SOURCE_SGLANG
    return LogRecord(catalog.MEMORY_LEAK.name, source, prefix.timestamp, fields)


def _read_headless(line: str) -> LogRecord | LeakNumbers | NoRecord:
    if _CHECK_LOG in line:
        return NoRecord.OTHER
    pool_line = _POOL_LINE.search(line)
    if pool_line is not None:
        return _pool_line_record(line, pool_line)
    decode = line.find(_HEADLESS_DECODE)
    if decode >= 0 and _is_prefix_only(line[:decode]):
        return _batch_record(line, decode, "Decode", (None, None), _read_prefix(line[:decode]))
    warning = line.find(_WARNING)
    if warning >= 0:
        pairs = scan_pairs(line, warning + len(_WARNING))
        if pairs:
            return LeakNumbers(pairs)
    named = _LEVEL_EVENT.search(line)
    if named is not None and named.group(1) in _EVENT_NAMES:
        return NoRecord.OTHER
    return NoRecord.UNKNOWN


def _pool_line_record(line: str, pool_line: re.Match[str]) -> LogRecord | NoRecord:
    """A `[swa] total=64, available=60, …` line on its own (no message before it): a leak
    record when its terms do not add up, else no leak (SGLang lists every pool once one leaks;
    the lines of one message are joined by `telemetry.logs.parse`)."""
    prefix = _read_prefix(line[: pool_line.start()])
    fields: dict[str, FieldValue] = {"pool": pool_line.group(1), **prefix.fields}
    fields.update(scan_pairs(line, pool_line.end()))
    if all(leak.difference == 0 for leak in pool_leaks(fields)):
        return NoRecord.OTHER
    source = SOURCE_POOLSCOPE if prefix.is_ours else SOURCE_SGLANG
    return LogRecord(catalog.MEMORY_LEAK.name, source, prefix.timestamp, fields)


def _is_prefix_only(text: str) -> bool:
    """Whether `text` holds nothing but bracketed prefixes and spaces."""
    return not _BRACKET.sub("", text).strip()


def _read_prefix(text: str) -> _Prefix:
    prefix = _Prefix()
    for content in _BRACKET.findall(text):
        _read_bracket(content, prefix)
    return prefix


def _read_bracket(content: str, prefix: _Prefix) -> None:
    """Adds what one bracket's `content` says to `prefix`."""
    stamp = _TIMESTAMP.match(content)
    if stamp is not None:
        _read_timestamp(content, stamp, prefix)
    elif "=" in content:
        prefix.fields.update(scan_pairs(content))
    elif _WORD.fullmatch(content):
        prefix.word = content


def _read_timestamp(content: str, stamp: re.Match[str], prefix: _Prefix) -> None:
    date, separator, clock = stamp.groups()
    read = _stamp_prefix(date, separator, clock, content[stamp.end() :])
    prefix.timestamp, prefix.is_ours = read.timestamp, prefix.is_ours or read.is_ours
    prefix.fields.update(read.fields)


def _stamp_prefix(date: str, separator: str, clock: str, rest: str) -> _Prefix:
    """`2024-08-10 10:00:00 TP0` → `2024-08-10T10:00:00` and tp_rank=0; an ISO timestamp alone
    in the bracket (our layout) is kept exactly as written."""
    if separator == "T" and not rest:
        return _Prefix(f"{date}T{clock}", is_ours=True)
    # the clock's last character decides whether a tag right after it starts at a word boundary
    ranks = _ranks(clock[-1] + rest) if rest else ()
    return _Prefix(f"{date}T{clock.replace(',', '.')}", fields=dict(ranks))


@lru_cache(maxsize=256)
def _ranks(text: str) -> tuple[tuple[str, int], ...]:
    """The rank tags in `text[1:]` (` DP0 TP3` → dp_rank 0, tp_rank 3), cached because every line
    of a process repeats them. `text[0]` is the timestamp's last character: it decides whether
    a tag right after the timestamp starts at a word boundary (it always does after a space, so
    such a rest is also kept in `_RANKS_AFTER`, a plain dict: a C-level lookup per line)."""
    ranks = tuple((f"{name.lower()}_rank", int(rank)) for name, rank in _RANK.findall(text, 1))
    if text[1:2] == " " and len(_RANKS_AFTER) < _CACHE_SIZE:
        _RANKS_AFTER[text[1:]] = ranks
    return ranks
