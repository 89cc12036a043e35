"""PromQL over SGLang's own metrics, for one metric prefix (`sglang:` or `sglang_`): every series
name comes from `telemetry.sglang_catalog` (so only names SGLang exposes), every dashboard selector
carries the `instance` and `model_name` template variables."""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.promql import aggregate, bucket_quantile, over_window, selector
from telemetry import sglang_catalog as sg
from telemetry.sglang_catalog import SGLangKind, SGLangMetric

DASHBOARD_MATCHERS = {"instance": "~$instance", sg.MODEL_LABEL: f"~${sg.MODEL_LABEL}"}
# SGLang labels the request counts by priority when priority scheduling is on; the series with
# an empty priority is the total. `priority=""` also matches series without the label.
TOTAL_OVER_PRIORITIES = {"priority": ""}


@dataclass(frozen=True)
class SGLangQueries:
    """Builds selectors and expressions for SGLang series under `prefix`."""

    prefix: str = sg.DEFAULT_PREFIX

    def name(self, metric: SGLangMetric, suffix: str = "") -> str:
        """The bare exposed series name (for rules and `label_values`)."""
        return metric.series(self.prefix, suffix)

    def series(self, metric: SGLangMetric, suffix: str = "", **matchers: str) -> str:
        """`name{instance=~"$instance",model_name=~"$model_name",k="v",...}`."""
        unknown = set(matchers) - {"instance", *sg.LABELS}
        if unknown:
            raise ValueError(f"SGLang's {metric.name} has no labels {sorted(unknown)}")
        return selector(self.name(metric, suffix), {**DASHBOARD_MATCHERS, **matchers})

    def agg(self, op: str, metric: SGLangMetric, by: tuple[str, ...] = (), **m: str) -> str:
        """`op by (by...) (selector)`, e.g. the max usage over an instance's DP ranks."""
        return aggregate(op, self.series(metric, **m), by)

    def rate(self, metric: SGLangMetric, by: tuple[str, ...] = ()) -> str:
        _require(metric, SGLangKind.COUNTER)
        return aggregate("sum", over_window("rate", self.series(metric)), by)

    def quantile(self, q: float, metric: SGLangMetric, by: tuple[str, ...] = ()) -> str:
        _require(metric, SGLangKind.HISTOGRAM)
        return bucket_quantile(q, self.series(metric, "_bucket"), by)


def _require(metric: SGLangMetric, kind: SGLangKind) -> None:
    if metric.kind is not kind:
        raise ValueError(f"SGLang's {metric.name} is a {metric.kind.value}, not a {kind.value}")
