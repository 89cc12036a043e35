"""The Prometheus configurations the compose stacks mount: `promtool check config` accepts each
(with its rule files, and for compose.sglang.yaml a file_sd file written by our own
`sglang_targets`), and, end to end, Debian's Prometheus with compose.sglang.yaml's config finds
an SGLang server through that file (scheme, path prefix and instance from its URL) and scrapes
the log exporter's job."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

import pytest
import yaml

from dashboards import stack
from dashboards.build import GENERATED, generated_files
from dashboards.prometheus_config import PROMETHEUS_FILE
from dashboards.prometheus_sglang_config import prometheus_sglang_document, targets_file
from dashboards.sglang_targets import parse_url, write_file_sd
from tests.dashboards.processes import prometheus
from tests.support import wait_for_series

PROMTOOL = shutil.which("promtool")
# A few of SGLang's gauges as its /metrics shows them.
SGLANG_METRICS = b"""\
# TYPE sglang:token_usage gauge
sglang:token_usage{model_name="m"} 0.5
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="m"} 2
"""
TEST_INTERVAL = "1s"
WAIT_S = 20


def _local_config(config: dict, targets: Path) -> dict:
    """`config` with each rule file at its generated path and file_sd reading `targets`."""
    by_name = {PurePosixPath(name).name: GENERATED / name for name in generated_files()}
    config["rule_files"] = [str(by_name[PurePosixPath(f).name]) for f in config["rule_files"]]
    for job in config["scrape_configs"]:
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [str(targets)]
    return config


@pytest.mark.skipif(PROMTOOL is None, reason="needs promtool")
@pytest.mark.parametrize("name", [PROMETHEUS_FILE, stack.SGLANG_PROMETHEUS_FILE])
def test_promtool_accepts_the_config(name: str, tmp_path: Path) -> None:
    """`promtool check config` passes on each committed Prometheus config, its rule files and
    (for SGLang's) a targets file as `poolscope dashboards sglang-target` writes it."""
    assert PROMTOOL is not None
    targets = tmp_path / stack.SGLANG_TARGETS_FILE
    write_file_sd(targets, [parse_url("https://gpu-3.example:30000/sglang")])
    config = _local_config(yaml.safe_load((GENERATED / name).read_text()), targets)
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run([PROMTOOL, "check", "config", str(path)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "WARNING" not in result.stdout + result.stderr


def test_sglang_job_reads_the_targets_file_and_exporter_is_job_poolscope() -> None:
    """Job `sglang` takes its targets from the file_sd file only (scheme and path come from its
    labels); job `poolscope` scrapes the log exporter's service, instance = its name."""
    jobs = {j["job_name"]: j for j in prometheus_sglang_document()["scrape_configs"]}
    assert set(jobs) == {stack.SGLANG_SCRAPE_JOB, stack.POOLSCOPE_SCRAPE_JOB}
    sglang = jobs[stack.SGLANG_SCRAPE_JOB]
    assert sglang["file_sd_configs"][0]["files"] == [targets_file()]
    assert "metrics_path" not in sglang and "scheme" not in sglang
    (static,) = jobs[stack.POOLSCOPE_SCRAPE_JOB]["static_configs"]
    assert static == {"targets": [stack.LOG_EXPORTER.address],
                      "labels": {"instance": stack.LOG_EXPORTER.name}}


class _Metrics(BaseHTTPRequestHandler):
    """Serves SGLANG_METRICS at any path, like a server behind a path prefix would, and records
    the paths asked for."""

    paths: list[str] = []

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(SGLANG_METRICS)
        type(self).paths.append(self.path)

    def log_message(self, *_: object) -> None:  # quiet
        pass


@contextmanager
def _fake_sglang() -> Iterator[str]:
    """A loopback HTTP server serving SGLang gauges; yields its `127.0.0.1:port`."""
    _Metrics.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus")
def test_prometheus_scrapes_sglang_found_through_the_targets_file(tmp_path: Path) -> None:
    """With compose.sglang.yaml's config (loopback addresses, 1 s intervals, no Alertmanager),
    Prometheus scrapes the server named in a targets file our code wrote, at its path prefix +
    /metrics, as job `sglang` with instance host:port/prefix, and the log exporter's job as
    `poolscope` with instance `log-exporter`."""
    with _fake_sglang() as address:
        targets = tmp_path / stack.SGLANG_TARGETS_FILE
        write_file_sd(targets, [parse_url(f"http://{address}/sglang")])
        config = _local_config(yaml.safe_load(generated_files()[stack.SGLANG_PROMETHEUS_FILE]),
                               targets)
        config["global"] = {"scrape_interval": TEST_INTERVAL, "evaluation_interval": TEST_INTERVAL}
        del config["alerting"]
        for job in config["scrape_configs"]:
            for static in job.get("static_configs", []):
                static["targets"] = [address]  # the log exporter's job, on the same fake
        path = tmp_path / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        with prometheus(path, tmp_path) as prom:
            (usage,) = wait_for_series(prom, 'sglang:token_usage{job="sglang"}', WAIT_S)
            assert usage["metric"]["instance"] == f"{address}/sglang"
            assert usage["metric"]["model_name"] == "m" and usage["value"][1] == "0.5"
            (up,) = wait_for_series(prom, 'up{job="sglang"} == 1', WAIT_S)
            assert up["metric"]["instance"] == f"{address}/sglang"
            (exporter,) = wait_for_series(prom, 'up{job="poolscope"} == 1', WAIT_S)
            assert exporter["metric"]["instance"] == stack.LOG_EXPORTER.name
    assert "/sglang/metrics" in _Metrics.paths
