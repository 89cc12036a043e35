"""Telemetry in the frontend: the catalog's instruments for the engine process's pools, fed from
the records the engine sends beside its outputs (the engine process does no OTel work)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.engine.observability import ObservabilitySettings
from runtime.engine.process.messages import Ready
from telemetry.metrics.gauges import GaugeSnapshot
from telemetry.metrics.meters import Metrics, MetricsSettings


@dataclass
class FrontendTelemetry:
    metrics: Metrics

    @classmethod
    def create(cls, ready: Ready, model_name: str,
               settings: ObservabilitySettings) -> FrontendTelemetry:
        summary = ready.summary
        metrics = Metrics(MetricsSettings(
            model=model_name, pools=tuple(summary.stats.pools), cache_pools=ready.cache_pools,
            otlp=settings.otlp,
        ))
        metrics.snapshot = GaugeSnapshot(stats=summary.stats,
                                         leaked_slots=dict(summary.leaked_slots))
        return cls(metrics)

    def consume(self, records: list[Any]) -> None:
        """Runs on the client's receiver thread, in the engine's order."""
