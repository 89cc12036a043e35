"""Telemetry in the frontend: the catalog's instruments for the engine process's pools, fed the
records the engine sends beside its outputs (the engine process does no OTel work at all)."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.engine.observability import ObservabilitySettings
from runtime.engine.observer import deliver
from runtime.engine.process.messages import Ready, RecordMsg
from runtime.engine.telemetry import EngineTelemetry
from telemetry.metrics.meters import Metrics, MetricsSettings


@dataclass
class FrontendTelemetry:
    metrics: Metrics
    observer: EngineTelemetry

    @classmethod
    def create(cls, ready: Ready, model_name: str,
               settings: ObservabilitySettings) -> FrontendTelemetry:
        metrics = Metrics(MetricsSettings(
            model=model_name, pools=tuple(ready.snapshot.stats.pools),
            cache_pools=ready.cache_pools, otlp=settings.otlp,
        ))
        observer = EngineTelemetry(metrics, settings.decode_log_interval)
        observer.publish(ready.snapshot)
        return cls(metrics, observer)

    def consume(self, records: list[RecordMsg]) -> None:
        """Runs on the client's receiver thread, in the engine's order."""
        for message in records:
            deliver(self.observer, message.record)
