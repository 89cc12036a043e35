"""Tests for telemetry.export.tail: lines as a file grows, across rotation, truncation and a file
that appears late, in bounded memory; each poll is driven by the test, so nothing sleeps."""

from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

import pytest

from telemetry.export.tail import (
    APPEARED,
    ROTATED,
    TRUNCATED,
    LineBuffer,
    LogTail,
    TailSettings,
    follow,
    read_once,
)


class Recorder:
    """A LogTail on `path` that remembers every switch it reported."""

    def __init__(self, path: Path, from_start: bool = False) -> None:
        self.switches: list[tuple[str, int]] = []
        self.tail = LogTail(TailSettings(path, from_start=from_start), on_switch=self._on_switch)

    def _on_switch(self, reason: str, num_bytes_read: int) -> None:
        self.switches.append((reason, num_bytes_read))

    def poll(self) -> list[str]:
        return list(self.tail.poll())


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "server.log"
    path.write_text("old 1\nold 2\n")
    return path


def test_starts_at_the_end_and_follows_appends(log: Path) -> None:
    """By default the lines already there are passed over (like tail) and appends are read."""
    tail = Recorder(log)
    assert tail.poll() == []
    _append(log, "new 1\nnew 2\n")
    assert tail.poll() == ["new 1", "new 2"]
    assert tail.poll() == []
    _append(log, "new 3\n")
    assert tail.poll() == ["new 3"] and tail.switches == []


def test_the_start_position_is_taken_when_the_tail_is_made(log: Path) -> None:
    """A line written after the tail is made but before its first poll is read, not skipped."""
    tail = Recorder(log)
    _append(log, "early\n")
    assert tail.poll() == ["early"]


def test_from_start_reads_the_existing_lines_first(log: Path) -> None:
    """With from_start the existing lines come first, then appends."""
    tail = Recorder(log, from_start=True)
    assert tail.poll() == ["old 1", "old 2"]
    _append(log, "new\n")
    assert tail.poll() == ["new"]


def test_a_partial_line_waits_for_its_end(log: Path) -> None:
    """A line without its newline is handed on only once the rest arrives, `\\r\\n` removed."""
    tail = Recorder(log)
    tail.poll()
    _append(log, "Decode batch, #running-req: 4, #tok")
    assert tail.poll() == []
    _append(log, "en: 812\r\nnext")
    assert tail.poll() == ["Decode batch, #running-req: 4, #token: 812"]


def test_rotation_finishes_the_old_file_then_reads_the_new_one(log: Path) -> None:
    """After a rename and a new file, the old file's last lines (its unfinished last line too)
    come first, then the new file from its start; the switch is reported once."""
    tail = Recorder(log)
    tail.poll()
    _append(log, "before\n")
    log.rename(log.with_suffix(".log.1"))
    _append(log.with_suffix(".log.1"), "late write\nunfinished")
    assert tail.poll() == ["before", "late write"]  # no new file yet: the old one stays open
    log.write_text("fresh 1\nfresh 2\n")
    assert tail.poll() == ["unfinished", "fresh 1", "fresh 2"]
    assert tail.switches == [(ROTATED, 40)]  # the old file was read to its end: 12 + 7 + 21
    _append(log, "fresh 3\n")
    assert tail.poll() == ["fresh 3"]


def test_truncation_reads_again_from_the_start(log: Path) -> None:
    """A file that got shorter than the position read is read again from 0, and the unfinished
    line of before is dropped."""
    tail = Recorder(log, from_start=True)
    tail.poll()
    _append(log, "half a li")
    tail.poll()
    log.write_text("after truncation\n")
    assert tail.poll() == ["after truncation"]
    assert tail.switches == [(TRUNCATED, 21)]


def test_a_missing_file_is_waited_for_and_read_whole(tmp_path: Path) -> None:
    """A file missing at the start yields nothing until it appears, then all its lines."""
    path = tmp_path / "later.log"
    tail = Recorder(path)
    assert tail.poll() == [] and tail.poll() == []
    path.write_text("first\nsecond\n")
    assert tail.poll() == ["first", "second"]
    assert tail.switches == [(APPEARED, 0)]


def test_a_file_deleted_and_recreated_is_read_from_its_start(log: Path) -> None:
    """Removing the file and writing a new one is a rotation: the new content is read whole (the
    open old file keeps its inode from being reused, so the inodes differ)."""
    tail = Recorder(log, from_start=True)
    assert tail.poll() == ["old 1", "old 2"]
    os.remove(log)
    log.write_text("new\n")
    assert tail.poll() == ["new"]
    assert tail.switches == [(ROTATED, 12)]


def test_an_overlong_line_is_cut_and_memory_stays_bounded() -> None:
    """A line longer than the bound is handed on cut at the bound; the buffer never holds more."""
    buffer = LineBuffer(max_line_bytes=8)
    assert buffer.feed(b"0123456789") == []
    assert len(buffer._partial) == 8
    assert buffer.feed(b"abc\nok\n") == ["01234567", "ok"]
    assert buffer.feed(b"tail") == [] and buffer.flush() == ["tail"] and buffer.flush() == []


def test_bad_bytes_are_replaced_not_raised() -> None:
    """Undecodable bytes become U+FFFD instead of an error."""
    assert LineBuffer(100).feed(b"a\xffb\n") == ["a\ufffdb"]


def test_follow_stops_when_asked(log: Path) -> None:
    """`follow` yields lines as they come and returns once the stop event is set."""
    stop = threading.Event()
    lines = follow(LogTail(TailSettings(log, from_start=True)), stop, poll_s=0.01)
    assert [next(lines), next(lines)] == ["old 1", "old 2"]
    stop.set()
    assert list(lines) == []


def test_read_once_reads_plain_and_gzip_files_whole(tmp_path: Path) -> None:
    """Reading once yields every line, the unfinished last one included, `.gz` decompressed."""
    plain = tmp_path / "a.log"
    plain.write_bytes(b"one\ntwo")
    packed = tmp_path / "b.log.gz"
    packed.write_bytes(gzip.compress(b"three\n"))
    stop = threading.Event()
    assert list(read_once(TailSettings(plain), stop)) == ["one", "two"]
    assert list(read_once(TailSettings(packed), stop)) == ["three"]


def test_settings_refuse_zero_bounds(tmp_path: Path) -> None:
    """A zero chunk or line bound is refused at construction."""
    with pytest.raises(ValueError, match="positive"):
        TailSettings(tmp_path / "x", max_line_bytes=0)
