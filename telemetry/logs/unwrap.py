"""Container log wrappings taken off before parsing: the CRI files of Kubernetes and Docker's
json-file logs, as a line-source transform in front of `telemetry.logs.parse.iter_records`.

    unwrapper = Unwrapper()
    records = unwrapper.stamped(iter_records(unwrapper.lines(read_lines(path)), counts))

- CRI (containerd, CRI-O: `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log`):
  `2026-12-05T10:00:00.123456789Z stdout F <line>`. The tag `P` (partial) says the line goes
  on in the next entry of the same stream; `F` ends it.
- Docker json-file (`/var/lib/docker/containers/<id>/<id>-json.log`):
  `{"log":"<line>\\n","stream":"stdout","time":"2026-12-05T10:00:00.123456789Z"}`. A `log`
  without its final newline is a piece of a longer line (Docker cuts lines at 16 KiB).

Detection is per line and cheap, so that unwrapped lines pay next to nothing: only a line that
starts with a digit (CRI) or with `{"log"` (Docker; `{ "log"` too, as json.dumps writes) is
looked at further; one that then does not match is handed on as it is. The parser counts the
lines it is handed: a joined line is one line. Pieces are joined per stream (stdout and stderr
interleave), a joined line keeps the time of its first piece and holds at most `max_chars`
(the rest is dropped, as `telemetry.export.tail` does for a long line); pieces whose line never
ended are handed on when the lines end. `None` items ("nothing new for now") pass through.

Timestamps: a record whose line had none (SGLang lines without a `[2026-...]` prefix, leak
messages in tracebacks) gets its entry's container time, as written there (RFC 3339, which
`telemetry.logs.record.epoch_seconds` reads). `iter_records` lets a leak record out only once a
later line, a quiet read or the end comes (it holds it for continuation lines): such a record
gets the time of the line before that one, its own last line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson

from telemetry import catalog
from telemetry.logs.record import LogRecord

MAX_CHARS = 1 << 20  # the longest joined line kept (as log_tail's max_line_bytes)
_DIGITS = frozenset("0123456789")
_DOCKER_STARTS = ('{"log"', '{ "log"')  # Docker's own, and Python's json.dumps
_LEAK = catalog.MEMORY_LEAK.name
# time, stream, tags (`F` or `P`, more `:`-separated ones allowed by the CRI spec; none before
# Kubernetes 1.10), then the line (it may be empty, its separating space too)
_CRI = re.compile(
    r"(\d{4}-\d\d-\d\dT[^ ]+) (stdout|stderr) (?:([FP](?::[^ ]*)?)(?: |\Z))?(.*)", re.DOTALL
)

Entry = tuple[str | None, str, bool, str]  # time, stream, is partial, text


@dataclass
class _Pieces:
    """The pieces of one stream's unfinished line, and the time of the first."""

    time: str | None
    parts: list[str]
    num_chars: int


class Unwrapper:
    """Takes the wrapping off each line (`lines`) and stamps records with the container time
    (`stamped`). One per file: it holds that file's unfinished pieces."""

    def __init__(self, max_chars: int = MAX_CHARS) -> None:
        self.max_chars = max_chars
        self.time: str | None = None  # container time of the line handed on last
        self.leak_time: str | None = None  # of the last line before the current item
        self._pieces: dict[str, _Pieces] = {}  # per stream

    def lines(self, source: Iterable[str | None]) -> Iterator[str | None]:
        """The lines of `source` unwrapped and joined; others (and `None`) as they are."""
        has_time = False  # a wrapped line was seen: times must be kept current
        for line in source:
            if line is None:
                self.leak_time = self.time
                yield None
                continue
            first = line[:1]
            if first in _DIGITS or (first == "{" and line.startswith(_DOCKER_STARTS)):
                entry = _entry(line)
                if entry is not None:
                    has_time = True
                    yield from self._take(entry)
                    continue
            if has_time:
                self.leak_time, self.time = self.time, None
            yield line
        for stream in list(self._pieces):
            yield self._joined(stream, "")
        self.leak_time = self.time

    def stamped(self, records: Iterable[LogRecord]) -> Iterator[LogRecord]:
        """`records` (read from `lines`), with the container time where they had no time."""
        for record in records:
            if record.timestamp is None:
                record.timestamp = self.leak_time if record.event == _LEAK else self.time
            yield record

    def _take(self, entry: Entry) -> Iterator[str]:
        time, stream, is_partial, text = entry
        held = self._pieces.get(stream)
        if is_partial:
            if held is None:
                self._pieces[stream] = _Pieces(time, [text], len(text))
            elif held.num_chars < self.max_chars:
                held.parts.append(text)
                held.num_chars += len(text)
            return
        if held is None:
            self.leak_time, self.time = self.time, time
            yield text
        else:
            yield self._joined(stream, text)

    def _joined(self, stream: str, last: str) -> str:
        held = self._pieces.pop(stream)
        if held.num_chars < self.max_chars:
            held.parts.append(last)
        self.leak_time, self.time = self.time, held.time
        return "".join(held.parts)[: self.max_chars]


def _entry(line: str) -> Entry | None:
    """The entry of a CRI or Docker json-file line, or None when it is neither."""
    if line[0] == "{":
        return _docker(line)
    match = _CRI.fullmatch(line)
    if match is None:
        return None
    time, stream, tags, text = match.groups()
    return time, stream, tags is not None and tags[0] == "P", text


def _docker(line: str) -> Entry | None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or type(text := obj.get("log")) is not str:
        return None
    time, stream = obj.get("time"), obj.get("stream")
    is_partial = not text.endswith("\n")
    if not is_partial:
        text = text[:-1].removesuffix("\r")
    return (
        time if type(time) is str else None,
        stream if type(stream) is str else "stdout",
        is_partial,
        text,
    )
