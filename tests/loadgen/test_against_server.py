"""`poolscope loadgen` against the real server on loopback: closed and open loop, with shared
prefixes and sessions; bounded in requests and seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.cli.main import main
from runtime.memory.memory_config import MambaStrategy
from tests.server.harness import served

pytestmark = pytest.mark.slow


def test_loadgen_drives_the_server_and_reports(
    nemotron_h_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A closed-loop run with shared prefixes and sessions succeeds on every request, the
    server's prefix cache gets hits, and the JSON report holds throughput and latencies."""
    report = tmp_path / "loadgen.json"
    buffered = {"mamba_strategy": MambaStrategy.EXTRA_BUFFER, "page_size": 4, "track_interval": 8}
    with served(nemotron_h_dir, chunked_prefill_size=32, **buffered) as s:
        code = main(["loadgen", "--url", s.url, "--concurrency", "3", "--duration", "20",
                     "--max-requests", "12", "--prompt-len", "24", "--output-len", "6",
                     "--shared-prefix-share", "0.5", "--shared-prefix-len", "16",
                     "--session-share", "0.3", "--session-turns", "2", "--no-progress",
                     "--json", str(report)])
        cached = s.summary().num_cached_tokens
    assert code == 0, capsys.readouterr()
    data = json.loads(report.read_text())
    assert data["num_requests_failed"] == 0 and data["num_requests_ok"] >= 12
    assert data["num_completion_tokens"] == 6 * data["num_requests_ok"]
    assert data["ttft_ms"]["count"] == data["num_requests_ok"]
    assert data["itl_ms"]["p50"] > 0 and data["output_token_throughput"] > 0
    assert data["num_sessions"] >= 1
    assert cached > 0  # the shared prefix hit the cache
    assert "output token throughput" in capsys.readouterr().out


def test_open_loop_at_a_request_rate(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """Poisson arrivals at a fixed rate, capped in count, all succeed."""
    report = tmp_path / "open.json"
    with served(nemotron_h_dir) as s:
        code = main(["loadgen", "--url", s.url, "--request-rate", "20", "--duration", "10",
                     "--max-requests", "8", "--prompt-len", "16", "--prompt-len-dist",
                     "uniform", "--output-len", "4", "--no-progress",
                     "--json", str(report)])
    data = json.loads(report.read_text())
    assert code == 0
    assert (data["num_requests_ok"], data["num_requests_failed"]) == (8, 0)
    # lengths are the model's tokens (byte-level here: several per word), counted via its API
    assert data["token_scale"]["is_measured"] and data["token_scale"]["tokens_per_word"] > 2
    assert 8 <= data["prompt_tokens"]["mean"] <= 24
