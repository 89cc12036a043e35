"""Beyond one Prometheus, over OTLP: the otlp overlay points the runtime at the Collector with
the pod as the resource's `service.instance.id`, and the runtime's real OTLP export, named the
way the Collector's Prometheus translation names it (with the generated transform), gives
exactly the catalog's Prometheus names, `job` poolscope and `instance` the pod, the labels the
rules and dashboards select on."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import yaml
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

from deployment.otel_collector import TRANSFORM, collector_config, dimensionless_metrics
from telemetry import catalog
from telemetry.metrics.gauges import GaugeSnapshot
from telemetry.metrics.meters import Metrics, MetricsSettings
from telemetry.pool_stats import PoolPartition, PoolStats
from tests.deploy.support import find, render
from tests.server.test_otlp import _last_export, receiver

POD, NAMESPACE = "poolscope-runtime-7d9f-abcde", "poolscope"
UNITS = {"s": "seconds", "ms": "milliseconds", "By": "bytes"}  # the translator's table, in part
PER_UNITS = {"s": "second", "m": "minute", "h": "hour"}


def _unit_suffixes(unit: str) -> list[str]:
    """`{token}/s` → ["per_second"], `s` → ["seconds"]; annotations and `1` give nothing."""
    top, _, per = re.sub(r"\{[^}]*\}", "", unit).partition("/")
    suffixes = [UNITS.get(top, top)] if top not in ("", "1") else []
    return suffixes + ([f"per_{PER_UNITS.get(per, per)}"] if per else [])


def collector_name(metric: Metric, units_cleared: set[str]) -> str:
    """The OTel-Prometheus compatibility rules as the Collector's translator applies them with
    suffixes on: `_`-joined tokens, the unit's suffix unless already there, `ratio` for gauges
    of unit 1, `total` for monotonic sums; after the transform has cleared some units."""
    unit = "" if metric.name in units_cleared else metric.unit
    name = "_".join(t for t in re.split(r"[^a-zA-Z0-9]+", metric.name) if t)
    for suffix in _unit_suffixes(unit):
        if not name.endswith(f"_{suffix}"):
            name = f"{name}_{suffix}"
    kind = metric.WhichOneof("data")
    if unit == "1" and kind == "gauge":
        name = f"{name}_ratio"
    if kind == "sum" and metric.sum.is_monotonic:
        name = f"{name.removesuffix('_total')}_total"
    return name


def _runtime_env() -> dict[str, str]:
    """The otlp overlay's runtime variables, expanded as the kubelet does: `$(VAR)` from
    variables defined earlier in the list only; fieldRefs resolved for one pod."""
    (deployment,) = find(render("otlp"), "Deployment", "poolscope-runtime")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    fields = {"metadata.name": POD, "metadata.namespace": NAMESPACE}
    env: dict[str, str] = {}
    for var in container["env"]:
        if "valueFrom" in var:
            ref = var["valueFrom"].get("fieldRef")
            env[var["name"]] = fields[ref["fieldPath"]] if ref else "secret"
        else:
            env[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], var["value"])
    return env


def test_otlp_overlay_drops_the_scrape_and_names_the_replica() -> None:
    """The otlp overlay has no runtime PodMonitor (no series twice), sends OTLP/HTTP to the
    Collector's Service, and sets service.instance.id to the pod's name."""
    objects = render("otlp")
    assert not find(objects, "PodMonitor", "poolscope-runtime")
    (service,) = find(objects, "Service", "otel-collector")
    env = _runtime_env()
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == (
        f"http://otel-collector:{service['spec']['ports'][0]['port']}")
    assert f"service.instance.id={POD}" in env["OTEL_RESOURCE_ATTRIBUTES"].split(",")


def test_collector_pipeline_uses_only_defined_components() -> None:
    """The Collector's metrics pipeline names receivers, processors and exporters it defines,
    the transform among them; the ConfigMap holds this very configuration."""
    config = collector_config()
    (pipeline,) = config["service"]["pipelines"].values()
    for kind in ("receivers", "processors", "exporters"):
        assert set(pipeline[kind]) <= set(config[kind])
    assert TRANSFORM in pipeline["processors"]
    (configmap,) = find(render("otlp"), "ConfigMap", "otel-collector")
    assert yaml.safe_load(next(iter(configmap["data"].values()))) == config


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """One real OTLP export of every catalog metric, with the overlay's resource attributes."""
    stats = PoolStats(pools={pool: PoolPartition(capacity=10, available=5, running=5)
                             for pool in catalog.POOLS})
    with receiver() as (endpoint, bodies):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", _runtime_env()["OTEL_RESOURCE_ATTRIBUTES"])
        metrics = Metrics(MetricsSettings(model="tiny", otlp=True))
        metrics.snapshot = GaugeSnapshot(stats)
        for spec in catalog.METRICS:
            if spec.instrument is catalog.Instrument.HISTOGRAM:
                metrics.record(spec, 0.01, **{k: catalog.LABEL_VALUES[k][0] for k in spec.labels})
        metrics.force_flush()
        metrics.shutdown()
        yield _last_export(bodies)


def test_collector_names_equal_the_catalogs_with_the_transform(exported: object) -> None:
    """Translated as the Collector does after the generated transform, the runtime's export
    holds exactly the catalog's Prometheus names, under job poolscope and instance = the pod;
    without the transform the unit-1 gauges would gain `_ratio`."""
    (resource,) = exported.resource_metrics  # type: ignore[attr-defined]
    attributes = {a.key: a.value.string_value for a in resource.resource.attributes}
    assert (attributes["service.name"], attributes["service.instance.id"]) == ("poolscope", POD)
    metrics = [m for scope in resource.scope_metrics for m in scope.metrics]
    cleared = set(dimensionless_metrics())
    assert {collector_name(m, cleared) for m in metrics} == {
        spec.prometheus_name for spec in catalog.METRICS}
    untransformed = {collector_name(m, set()) for m in metrics}
    assert f"{catalog.POOL_USAGE.prometheus_name}_ratio" in untransformed
