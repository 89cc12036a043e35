"""LogRecord: one batch or leak event read from a log line, whatever layout the line had.

The parser (`telemetry.logs.parse`) turns our JSON lines, our text layout and SGLang's text lines of
every era into LogRecords; `telemetry.logs.summary` and `telemetry.logs.plot` read only LogRecords.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

FieldValue = int | float | bool | str

SOURCE_POOLSCOPE = "poolscope"
SOURCE_SGLANG = "sglang"


@dataclass(slots=True)  # built once per parsed line: slots make that cheaper
class LogRecord:
    """One event: its catalog name, the layout family it came from (`poolscope` for our JSON and
    text layouts, `sglang` for SGLang's lines), the timestamp as written in the log (ISO-8601,
    or None when the line had none), and its fields with normalised keys (`running_req`, ...)."""

    event: str
    source: str
    timestamp: str | None
    fields: dict[str, FieldValue] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Flat dict: event, source, timestamp (left out when None), then the fields. A field
        named like one of the three heads does not overwrite it."""
        out: dict[str, Any] = {"event": self.event, "source": self.source}
        if self.timestamp is not None:
            out["timestamp"] = self.timestamp
        for key, value in self.fields.items():
            out.setdefault(key, value)
        return out


def epoch_seconds(timestamp: str | None) -> float | None:
    """Seconds since the epoch for an ISO-8601 timestamp (naive ones are taken as UTC), or None
    when there is no timestamp or it does not parse."""
    if not timestamp:
        return None
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
