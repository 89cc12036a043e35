"""structlog, configured once: one JSON object per line (orjson, ISO UTC timestamps, level, event,
context bound through contextvars) to stdout and optionally a file; or, with `format="text"`, the
same events in SGLang's human layout. Standard-library records (uvicorn, warnings) go through the
same renderer, so every line on stdout has one layout.

    configure_logging(LogSettings(format="json", file=Path("poolscope.jsonl")))
    get_logger("poolscope.engine").info(catalog.SESSION_OPENED.name, session_id="s1")
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import structlog
from structlog.typing import EventDict, Processor

FORMATS = ("json", "text")
LEVELS = ("debug", "info", "warning", "error", "critical")
HEAD_KEYS = ("timestamp", "level", "event")  # first in every JSON line, for people reading them


@dataclass(frozen=True)
class LogSettings:
    """Layout, minimum level, and an optional file that receives the same lines as stdout."""

    format: str = "json"
    level: str = "info"
    file: Path | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"log format must be one of {FORMATS}, not {self.format!r}")
        if self.level not in LEVELS:
            raise ValueError(f"log level must be one of {LEVELS}, not {self.level!r}")


class LineSink:
    """Writes each rendered line to every stream (stdout, a file); thread-safe. structlog calls
    it by level name, so every level is the same method."""

    def __init__(self, streams: list[IO[str]]) -> None:
        self.streams = streams
        self._lock = threading.Lock()

    def msg(self, message: str) -> None:
        with self._lock:
            for stream in self.streams:
                stream.write(message + "\n")
                stream.flush()

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


class _SinkHandler(logging.Handler):
    """Hands standard-library records to the sink, rendered by structlog's formatter."""

    def __init__(self, sink: LineSink) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.msg(self.format(record))
        except Exception:  # a logging failure must never take the server down
            self.handleError(record)


def _render_json(_: Any, __: str, event_dict: EventDict) -> str:
    head = {key: event_dict[key] for key in HEAD_KEYS if key in event_dict}
    return orjson.dumps(head | event_dict, default=str).decode()


def _renderer(fmt: str) -> Callable[[Any, str, EventDict], str]:
    if fmt == "json":
        return _render_json
    from telemetry.logs.text_layout import render_text

    return lambda _, __, event_dict: render_text(event_dict)


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


_open_file: IO[str] | None = None


def reset_logging() -> None:
    """Undoes `configure_logging`: structlog's defaults, no handler of ours, the file closed."""
    global _open_file
    if _open_file is not None:
        _open_file.close()
        _open_file = None
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _SinkHandler)]:
        root.removeHandler(handler)


def configure_logging(settings: LogSettings, stream: IO[str] | None = None) -> LineSink:
    """Configures structlog and the root stdlib logger; calling it again replaces the previous
    configuration (and closes the previous log file). Returns the sink the lines go to."""
    global _open_file
    reset_logging()
    streams = [stream if stream is not None else sys.stdout]
    if settings.file is not None:
        settings.file.parent.mkdir(parents=True, exist_ok=True)
        _open_file = settings.file.open("a", encoding="utf-8")
        streams.append(_open_file)
    sink = LineSink(streams)
    render = _renderer(settings.format)
    level = logging.getLevelNamesMapping()[settings.level.upper()]
    structlog.configure(
        processors=[*_shared_processors(), structlog.processors.format_exc_info, render],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=lambda *_: sink,
        cache_logger_on_first_use=False,
    )
    _route_stdlib(sink, render, level)
    return sink


def _route_stdlib(sink: LineSink, render: Callable[..., str], level: int) -> None:
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            render,
        ],
    )
    handler = _SinkHandler(sink)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger whose events carry `component=name`; resolved at each use, so it follows a
    later `configure_logging`."""
    return structlog.get_logger(component=name)
