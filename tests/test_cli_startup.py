"""Tests for the CLI's start-up: every `--help` and every verb that does not run a model starts
without importing torch, and an unknown flag after a verb is reported with that verb's usage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Runs main(argv) and then reports on stderr whether torch was imported along the way.
_PROBE = """
import sys
from runtime.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("TORCH_IMPORTED=" + str("torch" in sys.modules), file=sys.stderr)
sys.exit(code)
"""

HELPS = [
    [], ["serve"], ["generate"], ["loadgen"], ["logs"], ["logs", "summary"], ["logs", "export"],
    ["dashboards"], ["dashboards", "build"], ["dashboards", "sglang-target"], ["alert-sink"],
    ["bench"],
]


def _probe(argv: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True,
                          cwd=cwd, timeout=120, check=False)


@pytest.mark.parametrize("verb", HELPS, ids=lambda v: " ".join(v) or "top")
def test_help_does_not_import_torch(verb: list[str]) -> None:
    """`poolscope [VERB] --help` prints usage and exits 0 without importing torch."""
    proc = _probe([*verb, "--help"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: poolscope")
    assert "TORCH_IMPORTED=False" in proc.stderr


def test_model_free_verbs_do_not_import_torch(tmp_path: Path) -> None:
    """logs, dashboards and loadgen runs (here: a summary, a staleness check, a dead server)
    finish without importing torch."""
    log = tmp_path / "server.log"
    log.write_text('{"event": "server_started", "timestamp": "2026-01-01T00:00:00Z"}\n')
    runs = [
        ["logs", "summary", str(log), "--no-progress"],
        ["dashboards", "build", "--check"],
        ["dashboards", "sglang-target", "http://gpu-3:30000"],
        ["loadgen", "--url", "http://127.0.0.1:9", "--duration", "2", "--concurrency", "1",
         "--max-connect-errors", "2"],
    ]
    for argv in runs:
        proc = _probe(argv, cwd=tmp_path if argv[0] == "loadgen" else REPO)
        assert "TORCH_IMPORTED=False" in proc.stderr, (argv, proc.stderr)
        assert "Traceback" not in proc.stderr, (argv, proc.stderr)


def test_alert_sink_does_not_import_torch() -> None:
    """`poolscope alert-sink` imports no torch on its way to serving (checked in-process)."""
    code = (
        "import sys\nfrom runtime.cli.alert_sink import add_parser\n"
        "from telemetry.alerts.sink import AlertSink\n"
        "print('torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=60, check=True)
    assert proc.stdout.strip() == "False"


@pytest.mark.parametrize(
    "argv, usage",
    [
        (["serve", "--bogus"], "usage: poolscope serve"),
        (["generate", "--max-tokenz", "3"], "usage: poolscope generate"),
        (["loadgen", "--bogus"], "usage: poolscope loadgen"),
        (["logs", "summary", "x.log", "--bogus"], "usage: poolscope logs summary"),
        (["dashboards", "build", "--bogus"], "usage: poolscope dashboards build"),
        (["alert-sink", "--bogus"], "usage: poolscope alert-sink"),
        (["bench", "--bogus"], "usage: poolscope bench"),
    ],
)
def test_unknown_flag_shows_the_verbs_usage(argv: list[str], usage: str) -> None:
    """An unknown flag after a verb exits 2 with that verb's usage line and names the flag."""
    proc = _probe(argv)
    assert proc.returncode == 2
    assert proc.stderr.startswith(usage), proc.stderr
    unknown = "--max-tokenz 3" if argv[-1] == "3" else argv[-1]
    assert f"unrecognized arguments: {unknown}" in proc.stderr
