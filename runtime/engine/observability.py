"""Telemetry for a serving engine: its flags, and `instrument`, which attaches metrics and logs.

metrics = instrument(engine, "poolscope-hybrid", ObservabilitySettings())
# metrics.registry is what GET /metrics serves
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from telemetry.logs.batch_fields import DECODE_LOG_INTERVAL
from telemetry.logs.logging import FORMATS, LEVELS, LogSettings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from runtime.engine.engine import Engine
    from runtime.engine.telemetry import EngineTelemetry
    from telemetry.metrics.meters import Metrics




@dataclass(frozen=True)
class ObservabilitySettings:
    """How often decode lines are logged, and whether metrics also go over OTLP (where to and how
    often: the OTel SDK's standard `OTEL_EXPORTER_OTLP_*` / `OTEL_METRIC_EXPORT_INTERVAL`)."""

    decode_log_interval: int = DECODE_LOG_INTERVAL
    otlp: bool = False

    def __post_init__(self) -> None:
        if self.decode_log_interval < 1:
            raise ValueError("decode_log_interval must be at least 1")


def add_observability_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("logs and metrics")
    group.add_argument(
        "--log-format",
        choices=FORMATS,
        default="json",
        help="json: one JSON object per line; text: SGLang's human layout",
    )
    group.add_argument("--log-level", choices=LEVELS, default="info")
    group.add_argument(
        "--log-file", type=Path, default=None, help="also append the log lines to this file"
    )
    group.add_argument(
        "--decode-log-interval",
        type=int,
        default=DECODE_LOG_INTERVAL,
        help="log a decode_batch line every N decode steps",
    )


def log_settings_from_args(args: argparse.Namespace) -> LogSettings:
    return LogSettings(format=args.log_format, level=args.log_level, file=args.log_file)


def observability_from_args(args: argparse.Namespace) -> ObservabilitySettings:
    from runtime.config import env_settings

    return ObservabilitySettings(
        decode_log_interval=args.decode_log_interval, otlp=env_settings().otlp
    )


def instrument(
    engine: Engine,
    model_name: str,
    settings: ObservabilitySettings,
    registry: CollectorRegistry | None = None,
) -> Metrics:
    """Creates the catalog's instruments for this engine's pools and attaches the observer that
    feeds them and writes the log events."""
    from runtime.engine.telemetry import EngineTelemetry
    from telemetry.metrics.meters import (  # OpenTelemetry: not for `--help`
        Metrics,
        MetricsSettings,
    )

    metrics = Metrics(MetricsSettings(
        model=model_name, pools=tuple(engine.last_stats.pools),
        cache_pools=tuple(engine.mm.cache.components), otlp=settings.otlp,
    ), registry)
    attach_telemetry(engine, EngineTelemetry(metrics, settings.decode_log_interval))
    return metrics


def attach_telemetry(engine: Engine, observer: EngineTelemetry) -> EngineTelemetry:
    """Publishes the engine's snapshot once (gauges read it until the first record), then adds
    the observer; from then on it sees only records."""
    observer.publish(engine.snapshot())
    engine.observers.append(observer)
    return observer
