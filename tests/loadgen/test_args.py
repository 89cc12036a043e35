"""Tests for runtime.loadgen.args: flags map onto LoadgenConfig; run_loadgen's exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.loadgen import runner
from runtime.loadgen.args import config_from_args, run_loadgen
from runtime.loadgen.lengths import LengthDist, LengthSpec
from runtime.loadgen.workload import LoadgenConfig
from tests.loadgen.fake_server import FakeServer
from tests.loadgen.verb import parse, route
from tests.support import free_port


def test_defaults_match_the_config_defaults() -> None:
    """With no flags, the config is LoadgenConfig's defaults and the verb runs run_loadgen."""
    args = parse()
    assert config_from_args(args) == LoadgenConfig()
    assert args.run is run_loadgen and args.no_progress is False
    config = config_from_args(args)
    assert (config.url, config.concurrency, config.duration_s) == ("http://127.0.0.1:8000", 4, 30)
    assert (config.prompt_len.mean, config.output_len.mean) == (64, 32)
    assert config.json_path is None  # a report file only when asked for


def test_every_flag_reaches_the_config() -> None:
    """Each flag sets its config field."""
    args = parse(
        "--url",
        "http://h:9",
        "--model",
        "m",
        "--concurrency",
        "8",
        "--request-rate",
        "2.5",
        "--duration",
        "5",
        "--max-requests",
        "50",
        "--prompt-len",
        "100",
        "--prompt-len-dist",
        "uniform",
        "--prompt-len-spread",
        "0.2",
        "--output-len",
        "10",
        "--output-len-dist",
        "exponential",
        "--shared-prefix-share",
        "0.5",
        "--shared-prefix-len",
        "64",
        "--session-share",
        "0.25",
        "--session-turns",
        "4",
        "--seed",
        "9",
        "--api-key",
        "k",
        "--timeout",
        "7",
        "--json",
        "out/r.json",
        "--max-failure-rate",
        "0.2",
        "--max-connect-errors",
        "3",
        "--no-progress",
    )
    assert config_from_args(args) == LoadgenConfig(
        url="http://h:9",
        model="m",
        concurrency=8,
        request_rate=2.5,
        duration_s=5.0,
        max_requests=50,
        prompt_len=LengthSpec(100, LengthDist.UNIFORM, 0.2),
        output_len=LengthSpec(10, LengthDist.EXPONENTIAL),
        shared_prefix_share=0.5,
        shared_prefix_len=64,
        session_share=0.25,
        session_turns=4,
        seed=9,
        api_key="k",
        timeout_s=7.0,
        json_path=Path("out/r.json"),
        max_failure_rate=0.2,
        max_connect_errors=3,
    )
    assert args.no_progress


def test_request_rate_alone_leaves_concurrency_uncapped() -> None:
    """--request-rate without --concurrency means no cap on requests in flight."""
    config = config_from_args(parse("--request-rate", "3"))
    assert config.is_open_loop and config.concurrency is None


def test_empty_json_path_writes_no_report() -> None:
    """`--json ''` (like no --json at all) writes no report file."""
    assert config_from_args(parse("--json", "")).json_path is None


def test_invalid_value_raises_value_error() -> None:
    """A flag value the config rejects raises ValueError naming the field (the CLI prints it)."""
    with pytest.raises(ValueError, match="session_share"):
        config_from_args(parse("--session-share", "2"))


def test_unreachable_server_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """run_loadgen against a closed port returns 1 with one error line and no traceback."""
    args = parse("--url", f"http://127.0.0.1:{free_port()}", "--timeout", "5", "--json", "")
    assert run_loadgen(args) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("poolscope: error: cannot reach")
    assert "Traceback" not in captured.err and captured.out == ""


def test_successful_run_prints_table_and_writes_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run where requests succeed returns 0, prints the table and writes the JSON report."""
    route(monkeypatch, FakeServer().transport())
    path = tmp_path / "report.json"
    args = parse("--max-requests", "5", "--output-len", "4", "--json", str(path), "--no-progress")
    assert run_loadgen(args) == 0
    out = capsys.readouterr().out
    assert "requests ok / failed" in out and "5 / 0" in out and str(path) in out
    report = json.loads(path.read_text())
    assert report["num_requests_ok"] == 5 and report["num_completion_tokens"] == 20


def test_all_failed_returns_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """When every request fails, run_loadgen returns 1 and names the most common error."""
    route(monkeypatch, FakeServer(completion_status=500).transport())
    assert run_loadgen(parse("--max-requests", "2", "--json", "", "--no-progress")) == 1
    err = capsys.readouterr().err
    assert "no request succeeded, 2 failed (most common: HTTP 500: boom)" in err


@pytest.mark.parametrize("module", ["runtime.loadgen.args", "runtime.loadgen"])
def test_registering_the_verb_stays_light(module: str) -> None:
    """Importing the verb's module loads neither httpx nor tqdm, so `--help` stays instant."""
    code = f"import sys, {module}; print(sorted({{'httpx', 'tqdm'}} & set(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.strip() == "[]"


def test_lazy_exports_resolve() -> None:
    """The package's lazily loaded names resolve to the runner's and client's objects."""
    import runtime.loadgen as loadgen
    from runtime.loadgen.client import ServerUnreachable

    run: Callable[..., object] = loadgen.run
    assert run is runner.run and loadgen.ServerUnreachable is ServerUnreachable
    with pytest.raises(AttributeError):
        _ = loadgen.no_such_name
