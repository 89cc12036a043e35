"""Tests for telemetry.export.exporter and `poolscope logs export`: what a log says, read from the
real `/metrics` text, with the `source` label on every series; bad lines counted, never fatal;
a clean stop on SIGTERM."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from runtime.cli.main import main
from telemetry import catalog
from telemetry.export.exporter import LogExporter
from telemetry.export.settings import ExportSettings
from telemetry.export.tail import ROTATED, TailSettings
from tests.support import free_port, start_verb, stop_process

pytestmark = pytest.mark.usefixtures("fresh_logging")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
HISPARSE = (
    "Decode batch, #running-req: 1, #gpu token: 10, gpu token usage: 0.10, "
    "#cpu token: 100, cpu token usage: 0.20, cuda graph: False, "
    "gen throughput (token/s): 9.00, #queue-req: 3\n"
)
KV_LEAK = (
    "token_to_kv_pool_allocator memory leak detected! available_size=10, protected_size=0, "
    "self.max_total_num_tokens=100\n"
)
SWA_DOUBLE_FREE = "[swa] total=64, available=70, evictable=1, protected=0, session_held=0\n"


def scrape(url: str) -> Samples:
    """Every sample of the exposition at `url`, keyed by name and label set."""
    text = httpx.get(url, timeout=5).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, spec: catalog.MetricSpec, **labels: str) -> float | None:
    return samples.get((spec.prometheus_name, frozenset(labels.items())))


def scrape_until(url: str, condition: Callable[[Samples], bool], timeout_s: float = 30) -> Samples:
    deadline = time.monotonic() + timeout_s
    while True:
        samples = scrape(url)
        if condition(samples):
            return samples
        assert time.monotonic() < deadline, f"timed out; last scrape: {samples}"
        time.sleep(0.05)


@contextmanager
def exporting(path: Path, follow: bool = True, source: str | None = None) -> Iterator[str]:
    """An exporter on a free port reading `path` on a thread; yields its /metrics URL."""
    settings = ExportSettings(TailSettings(path, from_start=True), follow=follow, port=0,
                              source=source, poll_s=0.02)
    with running_exporter(settings) as url:
        yield url


@contextmanager
def running_exporter(settings: ExportSettings) -> Iterator[str]:
    """The exporter started, reading on a thread; yields its /metrics URL, then stops it."""
    exporter = LogExporter(settings).start()
    stop = threading.Event()
    reader = threading.Thread(target=exporter.run, args=(stop,), daemon=True)
    reader.start()
    try:
        yield exporter.url
    finally:
        stop.set()
        reader.join(timeout=10)
        exporter.close()
    assert not reader.is_alive()


def test_hisparse_line_sets_full_and_host_with_the_source_label(tmp_path: Path) -> None:
    """A HiSparse decode line shows as full (gpu) and host (cpu) usage and used slots, with the
    requests and throughput, every sample labelled with the given source."""
    path = tmp_path / "sglang.log"
    path.write_text(HISPARSE)
    with exporting(path, source="node-3") as url:
        got = scrape_until(url, lambda s: value(s, catalog.REQUESTS_QUEUED, source="node-3") == 3)
    src = {"source": "node-3"}
    assert value(got, catalog.POOL_USAGE, pool="full", **src) == 0.1
    assert value(got, catalog.POOL_USAGE, pool="host", **src) == 0.2
    assert value(got, catalog.POOL_USED, pool="full", **src) == 10
    assert value(got, catalog.POOL_USED, pool="host", **src) == 100
    assert value(got, catalog.REQUESTS_RUNNING, **src) == 1
    assert value(got, catalog.GENERATION_THROUGHPUT, **src) == 9.0
    assert all(dict(labels)["source"] == "node-3" for _, labels in got)


def test_leak_lines_count_by_pool_and_kind(tmp_path: Path) -> None:
    """A leak message increments memory_leaks_total for its pool: kind=leak when slots are
    lost, kind=double_free when more are free than exist; other pools stay at 0."""
    path = tmp_path / "sglang.log"
    path.write_text("")
    with exporting(path) as url:
        leaks = catalog.MEMORY_LEAKS.prometheus_name
        src = {"source": path.name}
        before = scrape_until(url, lambda s: value(s, catalog.MEMORY_LEAKS, pool="full",
                                                kind="leak", **src) == 0)
        assert len([key for key in before if key[0] == leaks]) == 10
        path.write_text(KV_LEAK + SWA_DOUBLE_FREE)
        got = scrape_until(url, lambda s: value(s, catalog.MEMORY_LEAKS, pool="swa",
                                             kind="double_free", **src) == 1)
    assert value(got, catalog.MEMORY_LEAKS, pool="full", kind="leak", **src) == 1
    assert value(got, catalog.MEMORY_LEAKS, pool="full", kind="double_free", **src) == 0
    assert value(got, catalog.POOL_LEAKED_SLOTS, pool="swa", **src) == -7
    assert sum(v for (name, _), v in got.items() if name == leaks) == 2


def test_bad_lines_are_counted_as_skipped_and_reading_goes_on(tmp_path: Path) -> None:
    """Garbage, truncated and blank lines are counted by result; the line after them is still
    read, and a line completed by a later write counts once."""
    path = tmp_path / "sglang.log"
    garbled = b'garbage \xff\n\n{"event": "decode_batch", "running_req": 4, "token_us\n'
    path.write_bytes(garbled + HISPARSE[:40].encode())
    with exporting(path) as url:
        lines = catalog.LOG_LINES
        src = {"source": path.name}
        scrape_until(url, lambda s: value(s, lines, result="skipped", **src) == 2)
        with path.open("a") as f:
            f.write(HISPARSE[40:])
        got = scrape_until(url, lambda s: value(s, lines, result="parsed", **src) == 1)
    assert value(got, lines, result="blank", **src) == 1
    assert value(got, lines, result="skipped", **src) == 2
    assert value(got, catalog.POOL_USAGE, pool="host", **src) == 0.2


def test_without_follow_the_final_figures_stay_served(tmp_path: Path) -> None:
    """Read once, the file's last figures are served and stay so while later writes are not
    read."""
    path = tmp_path / "old.log"
    path.write_text(HISPARSE + KV_LEAK)
    with exporting(path, follow=False) as url:
        src = {"source": "old.log"}
        scrape_until(url, lambda s: value(s, catalog.LOG_LINES, result="parsed", **src) == 2)
        path.write_text(HISPARSE.replace("#queue-req: 3", "#queue-req: 7"))
        time.sleep(0.2)
        got = scrape(url)
    assert value(got, catalog.REQUESTS_QUEUED, **src) == 3
    assert value(got, catalog.MEMORY_LEAKS, pool="full", kind="leak", **src) == 1


def test_every_series_is_a_catalog_metric(tmp_path: Path) -> None:
    """Every family served is a catalog entry's Prometheus name (runtime or exporter)."""
    path = tmp_path / "s.log"
    path.write_text(HISPARSE + KV_LEAK)
    with exporting(path) as url:
        got = scrape_until(url, lambda s: value(s, catalog.LOG_LINES, result="parsed",
                                            source="s.log") == 2)
    known = {spec.prometheus_name for spec in catalog.METRICS + catalog.EXPORTER_METRICS}
    assert {name for name, _ in got} <= known


def test_rotation_is_logged_and_the_new_file_is_read(tmp_path: Path) -> None:
    """A rotation logs a log_file_switched event and the new file's lines show."""
    path = tmp_path / "s.log"
    path.write_text(HISPARSE)
    with capture_logs() as logs, exporting(path) as url:
        scrape_until(url, lambda s: value(s, catalog.REQUESTS_QUEUED, source="s.log") == 3)
        path.rename(tmp_path / "s.log.1")
        path.write_text(HISPARSE.replace("#queue-req: 3", "#queue-req: 5"))
        scrape_until(url, lambda s: value(s, catalog.REQUESTS_QUEUED, source="s.log") == 5)
    events = [e["event"] for e in logs]
    assert events[0] == catalog.LOG_EXPORT_STARTED.name
    assert events[-1] == catalog.LOG_EXPORT_STOPPED.name
    switched = [e for e in logs if e["event"] == catalog.LOG_FILE_SWITCHED.name]
    assert [e["reason"] for e in switched] == [ROTATED]


def test_settings_refuse_a_bad_port_or_source(tmp_path: Path) -> None:
    """Ports outside 0..65535 and an empty source are refused at construction."""
    tail = TailSettings(tmp_path / "x.log")
    with pytest.raises(ValueError, match="port"):
        ExportSettings(tail, port=70000)
    with pytest.raises(ValueError, match="source"):
        ExportSettings(tail, source="")


def test_cli_serves_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    """`poolscope logs export FILE --follow` in a fresh interpreter serves appended lines, logs
    JSON start and stop events, exits 0 soon after SIGTERM and never imports torch."""
    path = tmp_path / "sglang.log"
    path.write_text("")
    port = free_port()
    proc = start_verb(["logs", "export", str(path), "--follow", "--port", str(port)])
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        assert proc.stdout is not None
        started = orjson.loads(proc.stdout.readline())  # written once the server is bound
        assert started["event"] == catalog.LOG_EXPORT_STARTED.name and started["url"] == url
        with path.open("a") as f:
            f.write(HISPARSE)
        scrape_until(url, lambda s: value(s, catalog.REQUESTS_QUEUED, source=path.name) == 3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        stop_process(proc)
    assert proc.returncode == 0, err
    *events, last = out.splitlines()
    assert last == "0 False"
    stopped = orjson.loads(events[-1])
    assert stopped["event"] == catalog.LOG_EXPORT_STOPPED.name
    assert (stopped["signal"], stopped["num_records"]) == ("SIGTERM", 1)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


def test_cli_missing_file_without_follow_exits_2(tmp_path: Path, capsys) -> None:
    """Read once, a missing file is one error line and exit 2."""
    assert main(["logs", "export", str(tmp_path / "gone.log"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("poolscope: error: no such log file") and "Traceback" not in err


def test_cli_busy_port_exits_2(tmp_path: Path, capsys) -> None:
    """A port already taken is one error line and exit 2."""
    path = tmp_path / "s.log"
    path.write_text("")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["logs", "export", str(path), "--port", str(port)]) == 2
    assert capsys.readouterr().err.startswith("poolscope: error:")


def test_hybrid_leak_whose_mamba_line_comes_in_a_later_read_counts_mamba(tmp_path: Path) -> None:
    """SGLang's hybrid leak message is counted once its second line, written after the first
    one was read, brings the mamba terms: a mamba leak, and no full-pool leak (its terms add
    up)."""
    path = tmp_path / "sglang.log"
    path.write_text("")
    first = (
        "[2025-10-01 10:00:00 TP0] token_to_kv_pool_allocator memory leak detected! "
        "full_available_size=1000, full_evictable_size=0, "
        "self.token_to_kv_pool_allocator.size=1000, self.tree_cache.full_protected_size()=0\n"
    )
    second = (
        "mamba_available_size=60, mamba_evictable_size=2, "
        "self.req_to_token_pool.mamba_pool.size=64, self.tree_cache.mamba_protected_size()=0, "
        "leaked_full_pages=None, leaked_mamba_pages={3, 17}\n"
    )
    with exporting(path) as url:
        src = {"source": path.name}
        with path.open("a") as f:
            f.write(first)
        time.sleep(0.05)  # a few 0.02 s polls: the first line is read on its own
        with path.open("a") as f:
            f.write(second)
        got = scrape_until(url, lambda s: value(s, catalog.MEMORY_LEAKS, pool="mamba",
                                             kind="leak", **src) == 1)
        lines = scrape_until(
            url, lambda s: value(s, catalog.LOG_LINES, result="parsed", **src) == 2
        )
    assert value(got, catalog.MEMORY_LEAKS, pool="full", kind="leak", **src) == 0
    assert value(got, catalog.POOL_LEAKED_SLOTS, pool="mamba", **src) == 2
    assert value(lines, catalog.LOG_LINES, result="skipped", **src) == 0
