"""`poolscope logs export`: serves what a log file says as poolscope metrics on `/metrics`.

    exporter = LogExporter(ExportSettings(TailSettings(Path("sglang.log")), follow=True))
    exporter.start()            # binds the HTTP server (port 0: any free port)
    exporter.run(stop)          # reads until `stop` is set (without follow: reads, then waits)
    exporter.close()

The log is read by `telemetry.export.tail`, unwrapped when a container runtime wrote it
(`telemetry.logs.unwrap`) and parsed by `telemetry.logs.parse`; a `LogState` per source keeps the
latest figures. A FILE with glob characters names every file it matches
(`telemetry.export.log_files`), each followed on a thread of its own with the source its path gives;
the glob is matched again for new files, and a file gone for `gone_s` is let go with its series. A
custom prometheus_client collector reads the figures at scrape time (nothing is pushed) and names
every series through catalog entries, each with the `source` label (the log's name by default): pool
usage, used slots and leaked slots, token_usage, kv_token_usage, running and queued requests,
generation throughput, prompt and cached tokens, leaks per pool and kind, and lines by result. A
gauge that no line has set yet is left out rather than shown as 0.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from telemetry import catalog
from telemetry.catalog import EXPORT_LABELS, Instrument, MetricSpec
from telemetry.export.log_files import matching_files, source_of
from telemetry.export.settings import ExportSettings
from telemetry.export.state import LogState
from telemetry.export.tail import FOUND, GONE, UNREADABLE, LogTail, follow, read_once
from telemetry.logs.logging import get_logger
from telemetry.logs.parse import LineCounts, read_records

_log = get_logger("poolscope.logs.export")


@dataclass
class SourceFigures:
    """What the files of one `source` label say: their LogState (under the exporter's lock) and
    each file's LineCounts (bumped by its reading thread)."""

    state: LogState = field(default_factory=LogState)
    line_counts: list[LineCounts] = field(default_factory=list)


Sample = tuple[float, tuple[str, ...]]  # value, label values after `source`


def _per_pool(values: Mapping[str, float]) -> list[Sample]:
    return [(value, (pool,)) for pool, value in values.items()]


def _single(value: float | None) -> list[Sample]:
    return [] if value is None else [(value, ())]


def _line_counts(figures: SourceFigures) -> list[Sample]:
    # NOTE: the reading threads bump these without our lock; each int read is atomic, and
    # num_records sums a 3-entry dict in C, under the GIL (CPython)
    counts = dict.fromkeys(catalog.LINE_RESULTS, 0)
    for file_counts in figures.line_counts:
        counts["parsed"] += file_counts.num_records + file_counts.num_merged
        counts["other"] += file_counts.num_other
        counts["blank"] += file_counts.num_blank
        counts["skipped"] += file_counts.num_skipped
    return [(counts[result], (result,)) for result in catalog.LINE_RESULTS]


_SERIES: tuple[tuple[MetricSpec, Callable[[SourceFigures], Iterable[Sample]]], ...] = (
    (catalog.POOL_USAGE, lambda f: _per_pool(f.state.usage)),
    (catalog.POOL_USED, lambda f: _per_pool(f.state.used)),
    (catalog.POOL_LEAKED_SLOTS, lambda f: _per_pool(f.state.leaked_slots)),
    (catalog.TOKEN_USAGE, lambda f: _single(f.state.token_usage)),
    (catalog.KV_TOKEN_USAGE, lambda f: _single(f.state.kv_token_usage)),
    (catalog.REQUESTS_RUNNING, lambda f: _single(f.state.num_running)),
    (catalog.REQUESTS_QUEUED, lambda f: _single(f.state.num_queued)),
    (catalog.GENERATION_THROUGHPUT, lambda f: _single(f.state.gen_throughput)),
    (catalog.TOKENS_PROMPT, lambda f: _single(f.state.num_prompt_tokens)),
    (catalog.TOKENS_CACHED, lambda f: [(f.state.num_cached_tokens, ("full",))]),
    (catalog.MEMORY_LEAKS, lambda f: [(n, key) for key, n in f.state.leaks.items()]),
    (catalog.LOG_LINES, _line_counts),
)


class LogCollector(Collector):
    """Reads every source's figures (under `lock`) at scrape time."""

    def __init__(self, sources: dict[str, SourceFigures], lock: threading.Lock) -> None:
        self.sources, self.lock = sources, lock

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            families = [self._family(spec, samples) for spec, samples in _SERIES]
        yield from families

    def _family(self, spec: MetricSpec, samples: Callable[[SourceFigures], Iterable[Sample]]
                ) -> Metric:
        labels = [*EXPORT_LABELS, *spec.labels]
        if spec.instrument is Instrument.COUNTER:
            name = spec.prometheus_name.removesuffix("_total")  # the client adds it back
            family: Metric = CounterMetricFamily(name, spec.description, labels=labels)
        else:
            family = GaugeMetricFamily(spec.prometheus_name, spec.description, labels=labels)
        for source, figures in sorted(self.sources.items()):
            for value, values in samples(figures):
                family.add_metric([source, *values], float(value))
        return family


class LogExporter:
    """The HTTP server and the reading loops: one file (in the caller's thread), or a glob's
    files, each followed on a thread of its own into its source's figures."""

    def __init__(self, settings: ExportSettings) -> None:
        self.settings = settings
        self.sources: dict[str, SourceFigures] = {}
        self._all_line_counts: list[LineCounts] = []  # every file's, for the final counts
        self._lock = threading.Lock()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(LogCollector(self.sources, self._lock))
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._tails: dict[Path, LogTail] = {}  # followed files (glob: run's thread only)
        self._readers: dict[Path, threading.Thread] = {}
        self._unreadable: set[Path] = set()

    @property
    def url(self) -> str:
        """`http://host:port/metrics` of the bound server (the real port after `start()`)."""
        port = self._server.server_port if self._server is not None else self.settings.port
        return f"http://{self.settings.host}:{port}/metrics"

    def start(self) -> LogExporter:
        """Takes each followed file's start position, then binds and serves on a background
        thread: a line written once /metrics answers is read. Raises OSError when the port is
        taken, or when a glob read once matches no file."""
        settings = self.settings
        if settings.is_glob and not settings.follow and not self._matches():
            raise FileNotFoundError(f"no log file matches {settings.tail.path}")
        if settings.follow and not settings.is_glob:
            path = settings.tail.path
            self._tails[path] = self._open_tail(path, settings.tail.from_start)
        elif settings.follow:
            for path in self._matches():
                if (tail := self._try_open(path, settings.tail.from_start)) is not None:
                    self._tails[path] = tail
        try:
            self._server, self._thread = start_http_server(
                settings.port, settings.host, self.registry
            )
        except OSError:
            self._close_tails()
            raise
        _log.info(catalog.LOG_EXPORT_STARTED.name, file=str(settings.tail.path), url=self.url,
                  port=self._server.server_port, source=settings.source_label,
                  follow=settings.follow, from_start=settings.reads_from_start)
        return self

    def run(self, stop: threading.Event) -> None:
        """Reads the log(s) into the figures until `stop` is set: following them, or reading
        them once and then keeping the final figures served. Raises OSError when a file read
        once cannot be opened; a bad line never raises."""
        settings = self.settings
        if settings.follow and settings.is_glob:
            self._follow_glob(stop)
            return
        if settings.follow:
            path = settings.tail.path
            self._read(path, follow(self._tails[path], stop, settings.poll_s))
            return
        if not settings.is_glob:
            self._read(settings.tail.path, read_once(settings.tail, stop))
        for path in self._matches() if settings.is_glob else []:
            try:
                self._read(path, read_once(replace(settings.tail, path=path), stop))
            except OSError:
                self._switched(path, UNREADABLE, 0)
        stop.wait()

    def _follow_glob(self, stop: threading.Event) -> None:
        """A reader per file, the glob matched again every `rescan_s` for new files (read from
        their start); a reader whose file is gone is let go."""
        for path, tail in self._tails.items():
            self._start_reader(path, tail, stop)
        while not stop.wait(self.settings.rescan_s):
            self._let_go_of_finished()
            if stop.is_set():  # readers that ended on `stop` are not files gone and back
                break
            for path in self._matches():
                if path not in self._readers and (tail := self._try_open(path, True)):
                    self._tails[path] = tail
                    self._switched(path, FOUND, 0)
                    self._start_reader(path, tail, stop)
        for reader in self._readers.values():
            reader.join()

    def _start_reader(self, path: Path, tail: LogTail, stop: threading.Event) -> None:
        reader = threading.Thread(target=self._follow_file, args=(path, tail, stop),
                                  name=f"log-export {path}", daemon=True)
        self._readers[path] = reader
        reader.start()

    def _follow_file(self, path: Path, tail: LogTail, stop: threading.Event) -> None:
        settings = self.settings
        lines = _until_gone(follow(tail, stop, settings.poll_s), path, settings.gone_s)
        line_counts = self._read(path, lines)
        if not stop.is_set():  # gone: its series go with it
            self._switched(path, GONE, 0)
            with self._lock:
                label = self._source(path)
                self.sources[label].line_counts.remove(line_counts)
                if not self.sources[label].line_counts:
                    del self.sources[label]

    def _let_go_of_finished(self) -> None:
        for path in [path for path, reader in self._readers.items() if not reader.is_alive()]:
            del self._readers[path]
            self._tails.pop(path).close()

    def _read(self, path: Path, lines: Iterable[str | None]) -> LineCounts:
        """Reads `lines` (of the file at `path`) into its source's figures."""
        line_counts = LineCounts()
        with self._lock:
            figures = self.sources.setdefault(self._source(path), SourceFigures())
            figures.line_counts.append(line_counts)
            self._all_line_counts.append(line_counts)
        for record in read_records(lines, line_counts):
            with self._lock:
                figures.state.apply(record)
        return line_counts

    def _matches(self) -> list[Path]:
        return matching_files(str(self.settings.tail.path))

    def _source(self, path: Path) -> str:
        settings = self.settings
        if not settings.is_glob:
            return settings.source_label
        own = source_of(path, str(settings.tail.path))
        return f"{settings.source}/{own}" if settings.source else own

    def _try_open(self, path: Path, from_start: bool) -> LogTail | None:
        """A glob's file opened, or None when it cannot be (logged once; tried again at the
        next match): one unreadable file must not stop the others."""
        try:
            tail = self._open_tail(path, from_start)
        except OSError:
            if path not in self._unreadable:
                self._unreadable.add(path)
                self._switched(path, UNREADABLE, 0)
            return None
        self._unreadable.discard(path)
        return tail

    def _open_tail(self, path: Path, from_start: bool) -> LogTail:
        settings = replace(self.settings.tail, path=path, from_start=from_start)
        return LogTail(settings, on_switch=functools.partial(self._switched, path))

    def _switched(self, path: Path, reason: str, num_bytes_read: int) -> None:
        _log.info(catalog.LOG_FILE_SWITCHED.name, file=str(path), reason=reason,
                  num_bytes_read=num_bytes_read)

    def close(self, signal_name: str | None = None) -> None:
        """Stops and closes the HTTP server and the followed files; logs the final counts."""
        self._close_tails()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join()
            self._server = self._thread = None
        with self._lock:
            all_counts = list(self._all_line_counts)
        _log.info(catalog.LOG_EXPORT_STOPPED.name, file=str(self.settings.tail.path),
                  signal=signal_name, num_lines=sum(s.num_lines for s in all_counts),
                  num_records=sum(s.num_records for s in all_counts),
                  num_skipped=sum(s.num_skipped for s in all_counts))

    def _close_tails(self) -> None:
        for tail in self._tails.values():
            tail.close()
        self._tails.clear()


def _until_gone(lines: Iterable[str | None], path: Path, gone_s: float) -> Iterator[str | None]:
    """`lines` until the file at `path` has been missing for `gone_s` (checked on quiet
    reads: a rotation leaves the path missing only for a moment)."""
    missing_since: float | None = None
    for line in lines:
        if line is None:
            if path.exists():
                missing_since = None
            elif missing_since is None:
                missing_since = time.monotonic()
            elif time.monotonic() - missing_since >= gone_s:
                return
        yield line
