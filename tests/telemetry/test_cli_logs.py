"""Tests for runtime.cli.logs: `poolscope logs convert|summary|plot` on files, counts on stderr,
a missing file as one error line with exit 2, and no torch import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from runtime.cli.main import main
from telemetry import catalog
from telemetry.logs.plot import NO_BATCH_RECORDS

DECODE = catalog.DECODE_BATCH.name
LOG = (
    "[2024-08-10 10:00:00 TP0] Decode batch. #running-req: 2, #token: 90, token usage: 0.95, "
    "gen throughput (token/s): 50.00, #queue-req: 1\n"
    "some other line\n"
    "\n"
    f'{{"event": "{DECODE}", "timestamp": "2024-08-10T10:00:04Z", "running_req": 3, '
    '"token_usage": 0.5, "gen_throughput": 70.0, "queue_req": 0}\n'
    "Mamba memory leak detected! mamba_available_size=3\n"
)


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "server.log"
    path.write_text(LOG)
    return path


def _single_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("poolscope: error: ")
    return lines[0]


def test_convert_writes_records_and_counts(log_file: Path, tmp_path: Path, capsys) -> None:
    """convert -o writes one JSON record per batch/leak line and prints the counts to stderr."""
    out = tmp_path / "records.jsonl"
    assert main(["logs", "convert", str(log_file), "-o", str(out), "--no-progress"]) == 0
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [r["event"] for r in rows] == [DECODE, DECODE, catalog.MEMORY_LEAK.name]
    assert rows[1] == {"event": DECODE, "source": "poolscope", "timestamp": "2024-08-10T10:00:04Z",
                       "running_req": 3, "token_usage": 0.5, "gen_throughput": 70.0,
                       "queue_req": 0}
    err = capsys.readouterr().err
    assert "5 lines: 3 records" in err and "1 skipped, 1 blank" in err


def test_convert_defaults_to_stdout(log_file: Path, capsysbinary) -> None:
    """Without -o, convert writes the JSON lines to stdout."""
    assert main(["logs", "convert", str(log_file)]) == 0
    lines = capsysbinary.readouterr().out.splitlines()
    assert len(lines) == 3 and orjson.loads(lines[0])["tp_rank"] == 0


def test_summary_prints_the_table(log_file: Path, capsys) -> None:
    """summary prints a row per pool and the leak, request and throughput figures."""
    assert main(["logs", "summary", str(log_file)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[2].split() == ["token", "2", "0.95", "0.72", "4.0", "s", "0", "0"]
    assert "leaks in mamba: 1" in out and "mean decode throughput: 60.00 token/s" in out


HYBRID_LOG = (
    "[2025-10-01 10:00:00 TP0] Decode batch, #running-req: 1, #full token: 10, "
    "full token usage: 0.01, mamba num: 2, mamba usage: 0.03, cuda graph: True, "
    "gen throughput (token/s): 9.00, #queue-req: 0,\n"
    "[2025-10-01 10:00:09 TP0] token_to_kv_pool_allocator memory leak detected! "
    "full_available_size=1000, full_evictable_size=0, self.token_to_kv_pool_allocator.size=1000, "
    "self.tree_cache.full_protected_size()=0\n"
    "mamba_available_size=60, mamba_evictable_size=2, self.req_to_token_pool.mamba_pool.size=64, "
    "self.tree_cache.mamba_protected_size()=0, leaked_full_pages=None, "
    "leaked_mamba_pages={3, 17}\n"
    "\n"
    "[2025-10-01 10:00:19 TP0] pool memory leak detected! [full] total=1000, available=1003, "
    "evictable=0, protected=0, session_held=0, uncached=0\n"
    "[mamba] total=64, available=64, evictable=0, protected=0, session_held=0, uncached=0, "
    "leaked_full_pages=None, leaked_mamba_pages=None\n"
)


def test_summary_counts_hybrid_leaks_and_double_frees_apart(tmp_path: Path, capsys) -> None:
    """summary joins each multi-line SGLang leak message and reports per pool a mamba leak
    (from the second line) apart from a full-pool double free, and no full-pool leak."""
    path = tmp_path / "sglang.log"
    path.write_text(HYBRID_LOG)
    assert main(["logs", "summary", str(path)]) == 0
    out = capsys.readouterr().out
    full = next(line for line in out.splitlines() if line.startswith("full "))
    assert full.split()[-2:] == ["0", "1"]  # leaks, double frees
    mamba = next(line for line in out.splitlines() if line.startswith("mamba "))
    assert mamba.split()[-2:] == ["1", "0"]
    assert "memory_leak 2" in out


def test_convert_joins_the_continuation_lines(tmp_path: Path, capsys) -> None:
    """convert writes one record per multi-line leak message, with every pool's terms."""
    path = tmp_path / "sglang.log"
    path.write_text(HYBRID_LOG)
    out = tmp_path / "records.jsonl"
    assert main(["logs", "convert", str(path), "-o", str(out), "--no-progress"]) == 0
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    leaks = [row for row in rows if row["event"] == catalog.MEMORY_LEAK.name]
    assert len(leaks) == 2 and leaks[0]["mamba_available_size"] == 60
    assert (leaks[1]["full_available"], leaks[1]["mamba_available"]) == (1003, 64)
    assert rows[0]["queue_req"] == 0 and "6 lines: 3 records" in capsys.readouterr().err


def test_plot_writes_png(log_file: Path, tmp_path: Path) -> None:
    """plot -o writes a PNG file."""
    out = tmp_path / "usage.png"
    assert main(["logs", "plot", str(log_file), "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("command", ["convert", "summary", "plot"])
def test_missing_file_is_one_error_line_and_exit_2(tmp_path: Path, command: str, capsys) -> None:
    """Each command given a missing file exits 2 with one error line naming the file."""
    missing = tmp_path / "nope.log"
    argv = ["logs", command, str(missing)] + (["-o", str(tmp_path / "o.png")] * (command == "plot"))
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert str(missing) in _single_error_line(captured.err) and captured.out == ""


def test_plot_without_batch_records_exits_2(tmp_path: Path, capsys) -> None:
    """plot on a log without batch records exits 2 with one error line."""
    path = tmp_path / "empty.log"
    path.write_text("nothing here\n")
    assert main(["logs", "plot", str(path), "-o", str(tmp_path / "x.png")]) == 2
    assert NO_BATCH_RECORDS in _single_error_line(capsys.readouterr().err)


def test_logs_verb_runs_without_torch(log_file: Path, tmp_path: Path) -> None:
    """`poolscope logs` in a fresh interpreter converts a file without importing torch."""
    code = (
        "import sys; from runtime.cli.main import main; "
        f"rc = main(['logs', 'convert', {str(log_file)!r}, '-o', {str(tmp_path / 'o.jsonl')!r}]);"
        " print(rc, 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["0", "False"]


def test_console_script_missing_file_has_no_traceback(tmp_path: Path) -> None:
    """The installed `poolscope logs summary` on a missing file exits 2 with one error line."""
    script = Path(sys.executable).parent / "poolscope"
    result = subprocess.run([str(script), "logs", "summary", str(tmp_path / "gone.log")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "no such log file" in _single_error_line(result.stderr)


def test_full_parser_registers_the_logs_verb() -> None:
    """`poolscope --help`'s parser knows `logs` and dispatches each command to its runner."""
    from runtime.cli.logs import run_plot
    from runtime.cli.main import build_parser

    args = build_parser().parse_args(["logs", "plot", "x.log", "-o", "x.png"])
    assert args.run is run_plot and args.out == Path("x.png")
