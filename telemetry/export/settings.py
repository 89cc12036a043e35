"""Settings of `poolscope logs export`: which log, how to read it, where to serve it. Light to
import (the CLI reads the defaults when it builds its parser)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from telemetry.export.log_files import is_glob
from telemetry.export.tail import TailSettings

# Beside the compose stack's 9090 (Prometheus), 9093 (Alertmanager) and 9095 (alert sink), and
# clear of 9464, the OTel Prometheus exporter's default.
DEFAULT_PORT = 9466
DEFAULT_HOST = "127.0.0.1"  # loopback unless asked: a log may say more than its owner shares
POLL_S = 0.2  # how often a followed file is checked for new lines, rotation and truncation
RESCAN_S = 2.0  # how often a glob is matched again for new files (a new pod's log)
GONE_S = 60.0  # a glob's file missing this long is let go (its pod was deleted)


@dataclass(frozen=True)
class ExportSettings:
    """The file and how to read it (`tail`), whether to follow it, where to serve (port 0: any
    free port), and the `source` label (default: the file name). A `tail.path` with glob
    characters names every file it matches, each with the source its path gives
    (`telemetry.export.log_files`), after `source/` when one is given: matched again every
    `rescan_s` when followed, a file missing for `gone_s` let go."""

    tail: TailSettings
    follow: bool = False
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    source: str | None = None
    poll_s: float = POLL_S
    rescan_s: float = RESCAN_S
    gone_s: float = GONE_S

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be within 0..65535, not {self.port}")
        if min(self.poll_s, self.rescan_s, self.gone_s) <= 0:
            raise ValueError("poll_s, rescan_s and gone_s must be positive")
        if self.source is not None and not self.source:
            raise ValueError("source must not be empty")

    @cached_property
    def is_glob(self) -> bool:
        """Whether the path has glob characters and is no file (`sglang[1].log` may be)."""
        return is_glob(str(self.tail.path)) and not self.tail.path.is_file()

    @property
    def source_label(self) -> str:
        """The one file's source; for a glob, what comes before each file's own."""
        if self.is_glob:
            return f"{self.source}/<from each path>" if self.source else "<from each path>"
        return self.source or self.tail.path.name

    @property
    def reads_from_start(self) -> bool:
        """A file read once is read whole; a followed one from its end unless `from_start`."""
        return self.tail.from_start or not self.follow
