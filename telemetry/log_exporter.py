"""`poolscope logs export`: serves what a log file says as poolscope metrics on `/metrics`.

    exporter = LogExporter(ExportSettings(TailSettings(Path("sglang.log")), follow=True))
    exporter.start()            # binds the HTTP server (port 0: any free port)
    exporter.run(stop)          # reads until `stop` is set (without follow: reads, then waits)
    exporter.close()

The log is read by `telemetry.log_tail` and parsed by `telemetry.logparse`; `LogState` keeps the
latest figures. A custom prometheus_client collector reads them at scrape time (nothing is pushed)
and names every series through catalog entries, each with the `source` label (the log's name):
pool usage, used slots and leaked slots, token_usage, kv_token_usage, running and queued requests,
generation throughput, prompt and cached tokens, leaks per pool and kind, and lines by result.
A gauge that no line has set yet is left out rather than shown as 0.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from telemetry import catalog
from telemetry.catalog import EXPORT_LABELS, Kind, MetricSpec
from telemetry.export_settings import ExportSettings
from telemetry.log_state import LogState
from telemetry.log_tail import LogTail, follow, read_once
from telemetry.logging import get_logger
from telemetry.logparse import ParseStats, read_records

_log = get_logger("poolscope.logs.export")


class LogCollector(Collector):
    """Reads a LogState (under `lock`) and ParseStats at scrape time."""

    def __init__(
        self, state: LogState, stats: ParseStats, lock: threading.Lock, source: str
    ) -> None:
        self.state, self.stats, self.lock, self.source = state, stats, lock, source

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            families = list(self._families())
        yield from families

    def _families(self) -> Iterator[Metric]:
        s = self.state
        yield self._per_pool(catalog.POOL_USAGE, s.usage)
        yield self._per_pool(catalog.POOL_USED, s.used)
        yield self._per_pool(catalog.POOL_LEAKED_SLOTS, s.leaked_slots)
        yield self._single(catalog.TOKEN_USAGE, s.token_usage)
        yield self._single(catalog.KV_TOKEN_USAGE, s.kv_token_usage)
        yield self._single(catalog.REQUESTS_RUNNING, s.num_running)
        yield self._single(catalog.REQUESTS_QUEUED, s.num_queued)
        yield self._single(catalog.GENERATION_THROUGHPUT, s.gen_throughput)
        yield self._single(catalog.TOKENS_PROMPT, s.num_prompt_tokens)
        yield self._family(catalog.TOKENS_CACHED, [(s.num_cached_tokens, ("full",))])
        yield self._family(catalog.MEMORY_LEAKS, ((n, key) for key, n in s.leaks.items()))
        yield self._family(catalog.LOG_LINES, self._line_counts())

    def _line_counts(self) -> list[tuple[float, tuple[str, ...]]]:
        # NOTE: the reading thread bumps these without our lock; each int read is atomic, and
        # num_records sums a 3-entry dict in C, under the GIL (CPython)
        stats = self.stats
        counts = {
            "parsed": stats.num_records + stats.num_merged, "other": stats.num_other,
            "blank": stats.num_blank, "skipped": stats.num_skipped,
        }  # fmt: skip
        return [(counts[result], (result,)) for result in catalog.LINE_RESULTS]

    def _per_pool(self, spec: MetricSpec, values: Mapping[str, float]) -> Metric:
        return self._family(spec, [(value, (pool,)) for pool, value in values.items()])

    def _single(self, spec: MetricSpec, value: float | None) -> Metric:
        return self._family(spec, [] if value is None else [(value, ())])

    def _family(self, spec: MetricSpec, samples: Iterable[tuple[float, tuple[str, ...]]]) -> Metric:
        labels = [*EXPORT_LABELS, *spec.labels]
        if spec.kind is Kind.COUNTER:
            name = spec.prometheus_name.removesuffix("_total")  # the client adds it back
            family: Metric = CounterMetricFamily(name, spec.description, labels=labels)
        else:
            family = GaugeMetricFamily(spec.prometheus_name, spec.description, labels=labels)
        for value, values in samples:
            family.add_metric([self.source, *values], float(value))
        return family


class LogExporter:
    """The HTTP server and the reading loop around one LogState."""

    def __init__(self, settings: ExportSettings) -> None:
        self.settings = settings
        self.state = LogState()
        self.stats = ParseStats()
        self._lock = threading.Lock()
        self.registry = CollectorRegistry(auto_describe=False)
        collector = LogCollector(self.state, self.stats, self._lock, settings.source_label)
        self.registry.register(collector)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._tail: LogTail | None = None

    @property
    def url(self) -> str:
        """`http://host:port/metrics` of the bound server (the real port after `start()`)."""
        port = self._server.server_port if self._server is not None else self.settings.port
        return f"http://{self.settings.host}:{port}/metrics"

    def start(self) -> LogExporter:
        """Takes a followed file's start position, then binds and serves on a background
        thread: a line written once /metrics answers is read. Raises OSError when the port is
        taken."""
        settings = self.settings
        if settings.follow:
            self._tail = LogTail(settings.tail, on_switch=self._switched)
        try:
            self._server, self._thread = start_http_server(
                settings.port, settings.host, self.registry
            )
        except OSError:
            self._close_tail()
            raise
        _log.info(catalog.LOG_EXPORT_STARTED.name, file=str(settings.tail.path), url=self.url,
                  port=self._server.server_port, source=settings.source_label,
                  follow=settings.follow, from_start=settings.reads_from_start)  # fmt: skip
        return self

    def run(self, stop: threading.Event) -> None:
        """Reads the log into the state until `stop` is set: following it, or reading it once
        and then keeping the final figures served. Raises OSError when a file read once cannot
        be opened; a bad line never raises."""
        if self._tail is not None:
            self._read(follow(self._tail, stop, self.settings.poll_s))
        else:
            self._read(read_once(self.settings.tail, stop))
            stop.wait()

    def _read(self, lines: Iterable[str | None]) -> None:
        for record in read_records(lines, self.stats):
            with self._lock:
                self.state.apply(record)

    def _switched(self, reason: str, num_bytes_read: int) -> None:
        _log.info(catalog.LOG_FILE_SWITCHED.name, file=str(self.settings.tail.path),
                  reason=reason, num_bytes_read=num_bytes_read)  # fmt: skip

    def close(self, signal_name: str | None = None) -> None:
        """Stops and closes the HTTP server and the followed file; logs the final counts."""
        self._close_tail()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join()
            self._server = self._thread = None
        stats = self.stats
        _log.info(catalog.LOG_EXPORT_STOPPED.name, file=str(self.settings.tail.path),
                  signal=signal_name, num_lines=stats.num_lines, num_records=stats.num_records,
                  num_skipped=stats.num_skipped)  # fmt: skip

    def _close_tail(self) -> None:
        if self._tail is not None:
            self._tail.close()
            self._tail = None
