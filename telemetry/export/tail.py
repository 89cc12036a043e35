"""Reading a log file as lines while it grows, like `tail -F`, in constant memory.

    tail = LogTail(TailSettings(Path("server.log")), on_switch=print)
    for line in follow(tail, stop, poll_s=0.2):   # until stop.set(); None: nothing new
        ...

- Appends are read as they come; a line is handed on once its newline arrives (an unfinished
  last line waits, holding at most `max_line_bytes`; a longer line is cut there and the rest
  dropped, which the parser reads like any truncated line).
- Rotation: the path names another file than the one open (device and inode differ). The old
  file is read to its end first (its unfinished last line ends with it), then the new one from
  its start. While the path is missing (renamed, not yet recreated) the old file stays open.
- Truncation: the open file got shorter than the position read (copytruncate, `> file`): read
  again from the start. NOTE: as for `tail`, a file truncated and refilled past the old position
  between two polls cannot be told from one that grew.
- A missing file is waited for and read from its start once it appears.
- Start: the end of an existing file (like `tail`), or its start with `from_start`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from telemetry.logs.files import decompressed

ROTATED, TRUNCATED, APPEARED = "rotated", "truncated", "appeared"
# a glob's new file, one let go, one that cannot be read (`telemetry.export.exporter`)
FOUND, GONE, UNREADABLE = "found", "gone", "unreadable"
SwitchCallback = Callable[[str, int], None]  # (reason, bytes read of the file before; 0 if none)


@dataclass(frozen=True)
class TailSettings:
    """Which file, where to start, and the bounds that keep memory constant."""

    path: Path
    from_start: bool = False
    chunk_bytes: int = 1 << 16  # bytes read per call: bounds the lines handed on at once
    max_line_bytes: int = 1 << 20  # the longest line kept whole (SGLang lines are < 1 KiB)

    def __post_init__(self) -> None:
        if self.chunk_bytes < 1 or self.max_line_bytes < 1:
            raise ValueError("chunk_bytes and max_line_bytes must be positive")


class LineBuffer:
    """Cuts a byte stream into text lines (UTF-8, undecodable bytes replaced, `\\r\\n` and `\\n`
    ends removed). Holds at most `max_line_bytes` of an unfinished line."""

    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self._partial = bytearray()

    def feed(self, data: bytes) -> list[str]:
        """The lines `data` completes; keeps its unfinished end for the next call."""
        lines = []
        start = 0
        end = data.find(b"\n")
        while end >= 0:
            self._keep(data, start, end)
            lines.append(self._take())
            start = end + 1
            end = data.find(b"\n", start)
        self._keep(data, start, len(data))
        return lines

    def flush(self) -> list[str]:
        """The unfinished line as a line of its own (its file ended), or nothing."""
        return [self._take()] if self._partial else []

    def clear(self) -> None:
        """Drops the unfinished line (its file was truncated under it)."""
        self._partial.clear()

    def _keep(self, data: bytes, start: int, end: int) -> None:
        room = self.max_line_bytes - len(self._partial)
        if room > 0:
            self._partial += data[start : min(end, start + room)]

    def _take(self) -> str:
        line = self._partial.decode("utf-8", "replace").removesuffix("\r")
        self._partial.clear()
        return line


class LogTail:
    """Follows `settings.path` across rotation and truncation (module docstring). The start
    position is taken at construction (the file is opened then, when it exists), so that lines
    written after it are never missed. `poll()` hands on every line complete now and returns;
    call it again later for more. `on_switch` is told each rotation, truncation and appearance.
    Not thread-safe: one reader. Raises OSError (but FileNotFoundError) when the file cannot
    be opened."""

    def __init__(self, settings: TailSettings, on_switch: SwitchCallback | None = None) -> None:
        self.settings = settings
        self._on_switch = on_switch or (lambda reason, position: None)
        self._buffer = LineBuffer(settings.max_line_bytes)
        self._file: BinaryIO | None = None
        self._position = 0
        self._open(at_end=not settings.from_start)

    def poll(self) -> Iterator[str]:
        """The lines completed since the last poll, the file switched as needed."""
        if self._file is None:
            if not self._open(at_end=False):  # missing at the start or after a rotation
                return
            self._on_switch(APPEARED, 0)  # a new file: read it all
        yield from self._drain()
        yield from self._check_path()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self, at_end: bool) -> bool:
        """Opens the path at its start or end; False when it is missing."""
        try:
            # unbuffered: a read after the end sees what was appended since
            self._file = open(self.settings.path, "rb", buffering=0)
        except FileNotFoundError:
            return False
        self._position = self._file.seek(0, os.SEEK_END if at_end else os.SEEK_SET)
        return True

    def _drain(self) -> Iterator[str]:
        """Reads the open file to its current end."""
        assert self._file is not None
        while chunk := self._file.read(self.settings.chunk_bytes):
            self._position += len(chunk)
            yield from self._buffer.feed(chunk)

    def _check_path(self) -> Iterator[str]:
        assert self._file is not None
        try:
            named = os.stat(self.settings.path)
        except FileNotFoundError:
            return  # renamed away, the new one not there yet: the writer may still append here
        opened = os.fstat(self._file.fileno())
        if (named.st_dev, named.st_ino) != (opened.st_dev, opened.st_ino):
            yield from self._drain()  # what the writer added before it switched files
            yield from self._buffer.flush()
            self.close()
            num_bytes_read = self._position
            if self._open(at_end=False):
                self._on_switch(ROTATED, num_bytes_read)
                yield from self._drain()
        elif opened.st_size < self._position:
            self._buffer.clear()
            num_bytes_read, self._position = self._position, self._file.seek(0)
            self._on_switch(TRUNCATED, num_bytes_read)
            yield from self._drain()


def follow(tail: LogTail, stop: threading.Event, poll_s: float) -> Iterator[str | None]:
    """Lines of `tail` as they come, polling every `poll_s` seconds, until `stop` is set (checked
    between lines too, so a long backlog does not delay a shutdown). A poll that finds nothing
    new yields `None`, so that a reader holding an unfinished multi-line message
    (`telemetry.logs.parse.iter_records`) can tell a quiet file from one still being written."""
    while not stop.is_set():
        is_quiet = True
        for line in tail.poll():
            is_quiet = False
            yield line
            if stop.is_set():
                return
        if is_quiet:
            yield None
        stop.wait(poll_s)


def read_once(settings: TailSettings, stop: threading.Event) -> Iterator[str]:
    """Every line of the file as it is now (a `.gz` file decompressed), the unfinished last line
    included, until its end or `stop`. Raises OSError when the file cannot be opened."""
    buffer = LineBuffer(settings.max_line_bytes)
    with open(settings.path, "rb") as raw:
        stream = decompressed(raw, settings.path)
        while not stop.is_set() and (chunk := stream.read(settings.chunk_bytes)):
            yield from buffer.feed(chunk)
    yield from buffer.flush()
