"""Settings of `poolscope logs export`: which log, how to read it, where to serve it. Light to
import (the CLI reads the defaults when it builds its parser)."""

from __future__ import annotations

from dataclasses import dataclass

from telemetry.log_tail import TailSettings

# Beside the compose stack's 9090 (Prometheus), 9093 (Alertmanager) and 9095 (alert sink), and
# clear of 9464, the OTel Prometheus exporter's default.
DEFAULT_PORT = 9466
DEFAULT_HOST = "127.0.0.1"  # loopback unless asked: a log may say more than its owner shares
POLL_S = 0.2  # how often a followed file is checked for new lines, rotation and truncation


@dataclass(frozen=True)
class ExportSettings:
    """The file and how to read it (`tail`), whether to follow it, where to serve (port 0: any
    free port), and the `source` label (default: the file name)."""

    tail: TailSettings
    follow: bool = False
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    source: str | None = None
    poll_s: float = POLL_S

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be within 0..65535, not {self.port}")
        if self.poll_s <= 0:
            raise ValueError("poll_s must be positive")
        if self.source is not None and not self.source:
            raise ValueError("source must not be empty")

    @property
    def source_label(self) -> str:
        return self.source or self.tail.path.name

    @property
    def reads_from_start(self) -> bool:
        """A file read once is read whole; a followed one from its end unless `from_start`."""
        return self.tail.from_start or not self.follow
