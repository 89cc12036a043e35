"""Tests for telemetry.logs.unwrap through `read_records`: SGLang lines inside Kubernetes CRI
files and Docker json-file logs, written in those documented formats, read like the bare lines,
with partial lines joined per stream and the container time where the line has none."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from runtime.cli.main import main
from telemetry import catalog
from telemetry.logs.parse import LineCounts, iter_records, read_records
from telemetry.logs.record import epoch_seconds
from telemetry.logs.unwrap import Unwrapper

LEAK, DECODE = catalog.MEMORY_LEAK.name, catalog.DECODE_BATCH.name
STAMPED = (
    "[2026-12-05 10:00:00 TP0] Decode batch, #running-req: 2, #token: 10, token usage: 0.10, "
    "cuda graph: False, gen throughput (token/s): 9.00, #queue-req: 3"
)
BARE = (
    "Decode batch, #running-req: 1, #full token: 10, full token usage: 0.10, #swa token: 5, "
    "swa token usage: 0.05, mamba num: 2, mamba usage: 0.25, cuda graph: False, "
    "gen throughput (token/s): 9.00, #queue-req: 4"
)
LEAK_LINES = (
    "ValueError: pool memory leak detected! [full] total=1024, available=1000, evictable=10, "
    "protected=0, session_held=0, uncached=0",
    "[swa] total=64, available=60, evictable=0, protected=0, session_held=0, uncached=0",
)
T0, T1, T2, T3 = (f"2026-12-05T10:00:0{i}.123456789Z" for i in range(4))


def cri(time: str, text: str, tag: str = "F", stream: str = "stdout") -> str:
    """A line as containerd and CRI-O write it under /var/log/pods."""
    return f"{time} {stream} {tag} {text}"


def docker(time: str, text: str, stream: str = "stdout", spaced: bool = False) -> str:
    """A json-file line as Docker writes it (or as Python's json.dumps, with spaces)."""
    entry = {"log": text, "stream": stream, "time": time}
    return json.dumps(entry) if spaced else orjson.dumps(entry).decode()


def records(lines: list[str | None]) -> list:
    return list(read_records(lines, LineCounts()))


def bare_records(lines: list[str]) -> list:
    return list(iter_records(lines, LineCounts()))


def test_cri_full_lines_read_like_the_bare_lines_with_the_container_time_where_none() -> None:
    """CRI `F` lines give the bare lines' records; a line without a time gets the entry's."""
    got = records([cri(T0, STAMPED), cri(T1, BARE, stream="stderr")])
    want = bare_records([STAMPED, BARE])
    assert [r.fields for r in got] == [r.fields for r in want]
    assert got[0].timestamp == want[0].timestamp == "2026-12-05T10:00:00"  # its own time wins
    assert got[1].timestamp == T1 and epoch_seconds(T1) is not None


def test_cri_partial_lines_join_per_stream_until_the_full_one() -> None:
    """`P` pieces join with the next pieces of their own stream up to the `F` one, while the
    other stream's lines in between are read on their own; the joined line has its first
    piece's time."""
    cut1, cut2 = 30, 90
    lines = [
        cri(T0, BARE[:cut1], "P"),
        cri(T1, STAMPED, stream="stderr"),
        cri(T2, BARE[cut1:cut2], "P"),
        cri(T3, BARE[cut2:], "F"),
    ]
    got = records(lines)
    assert [r.fields for r in got] == [r.fields for r in bare_records([STAMPED, BARE])]
    assert got[1].timestamp == T0


def test_docker_json_file_lines_and_split_long_lines() -> None:
    """Docker's compact lines and json.dumps' spaced ones are read; a long line that Docker
    cut into entries without a final newline is joined; `\\r\\n` ends are dropped."""
    lines = [
        docker(T0, STAMPED + "\n"),
        docker(T1, BARE[:40]),
        docker(T2, STAMPED + "\r\n", stream="stderr", spaced=True),
        docker(T3, BARE[40:] + "\n", spaced=True),
    ]
    got = records(lines)
    assert [r.fields for r in got] == [r.fields for r in bare_records([STAMPED, STAMPED, BARE])]
    assert got[2].timestamp == T1


def test_multi_line_leak_in_cri_lines_joins_and_gets_its_last_line_time() -> None:
    """A leak message whose pool sections are separate CRI entries is one record with every
    pool's terms, stamped with the time of its own last line, not the line that ended it."""
    lines = [cri(T0, LEAK_LINES[0]), cri(T1, LEAK_LINES[1]), cri(T2, BARE)]
    got = records(lines)
    assert [r.event for r in got] == [LEAK, DECODE]
    assert got[0].fields == bare_records(list(LEAK_LINES))[0].fields
    assert (got[0].timestamp, got[1].timestamp) == (T1, T2)


def test_a_leak_let_out_by_quiet_reads_or_the_end_keeps_its_own_time() -> None:
    """A held leak released by quiet reads (`None`) or by the end has its last line's time."""
    quiet = records([cri(T0, LEAK_LINES[0]), cri(T1, LEAK_LINES[1]), *[None] * 6])
    ended = records([cri(T0, LEAK_LINES[0])])
    assert (quiet[0].timestamp, ended[0].timestamp) == (T1, T0)


def test_cri_lines_without_tags_as_before_kubernetes_1_10_are_full_lines() -> None:
    """An entry with no `F`/`P` tag (the first CRI format) is a whole line; extra tags after
    `F:` are allowed."""
    got = records([f"{T0} stdout {BARE}", cri(T1, STAMPED, tag="F:x")])
    assert [r.fields for r in got] == [r.fields for r in bare_records([BARE, STAMPED])]
    assert got[0].timestamp == T0


def test_detection_is_per_line_and_leaves_other_lines_alone() -> None:
    """Bare lines between wrapped ones are read as they are (no container time lent to
    them); a line that starts with a date but is no CRI entry, and a JSON line with no `log`
    string, pass through unchanged."""
    python_logging = "2026-12-05 10:00:00,123 INFO Decode batch, #running-req: 1"
    odd_json = '{"log": 5, "stream": "stdout"}'
    out = list(Unwrapper().lines([cri(T0, STAMPED), BARE, python_logging, odd_json]))
    assert out == [STAMPED, BARE, python_logging, odd_json]
    got = records([cri(T0, BARE), BARE])
    assert (got[0].timestamp, got[1].timestamp) == (T0, None)


def test_unfinished_pieces_end_with_the_lines_and_stay_bounded() -> None:
    """A partial line whose end never came is handed on when the lines end, cut at
    `max_chars`; an empty CRI entry is a blank line."""
    unwrapper = Unwrapper(max_chars=10)
    out = list(unwrapper.lines([cri(T0, "a" * 8, "P"), cri(T1, "b" * 8, "P"), f"{T2} stderr F"]))
    assert out == ["", "a" * 8 + "bb"]
    counts = LineCounts()
    assert list(read_records([f"{T0} stdout F "], counts)) == [] and counts.num_blank == 1


def test_cli_convert_and_summary_read_a_cri_file(tmp_path: Path, capsys) -> None:
    """`logs convert` on a CRI file writes the bare file's records (container time added) and
    `logs summary` counts its leak."""
    path = tmp_path / "0.log"
    wrapped = [cri(T0, STAMPED), cri(T1, BARE[:50], "P"), cri(T1, BARE[50:]),
               cri(T2, LEAK_LINES[0]), cri(T2, LEAK_LINES[1])]
    path.write_text("\n".join(wrapped) + "\n")
    out = tmp_path / "records.jsonl"
    assert main(["logs", "convert", str(path), "-o", str(out), "--no-progress"]) == 0
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [row["event"] for row in rows] == [DECODE, DECODE, LEAK]
    assert rows[1]["timestamp"] == T1 and rows[1]["mamba_usage"] == 0.25
    assert "4 lines: 3 records" in capsys.readouterr().err
    assert main(["logs", "summary", str(path), "--no-progress"]) == 0
    summary = capsys.readouterr().out
    swa = next(line for line in summary.splitlines() if line.startswith("swa "))
    assert swa.split()[-2:] == ["1", "0"]
