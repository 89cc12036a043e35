"""PromQL over SGLang's own metrics, for one metric prefix (`sglang:` or `sglang_`): every series
name comes from `telemetry.sglang.catalog` (so only names SGLang exposes), every dashboard selector
carries the `instance` and `model_name` template variables."""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.promql import RATE_WINDOW, aggregate, bucket_quantile, over_window, selector
from telemetry.sglang import catalog as sg
from telemetry.sglang.catalog import SGLangMetric, SGLangType

DASHBOARD_MATCHERS = {"instance": "~$instance", sg.MODEL_LABEL: f"~${sg.MODEL_LABEL}"}
# The scheduler's rank labels, each a template variable whose All is `.*` (which also matches a
# series without the label, as releases before 0.4.10 export). Tokenizer metrics carry no rank.
RANK_LABELS = ("dp_rank", "tp_rank", "pp_rank")
RANK_MATCHERS = {label: f"~${label}" for label in RANK_LABELS}
# SGLang labels the request counts by priority when priority scheduling is on; the series with
# an empty priority is the total. `priority=""` also matches series without the label.
TOTAL_OVER_PRIORITIES = {"priority": ""}
RULE_WINDOW = "5m"


@dataclass(frozen=True)
class SGLangQueries:
    """Builds selectors and expressions for SGLang series under `prefix`: for a dashboard
    (template variables on every selector, Grafana's rate window) or, with `is_rule`, for an
    alert rule (bare names, a fixed window)."""

    prefix: str = sg.DEFAULT_PREFIX
    is_rule: bool = False

    @property
    def window(self) -> str:
        return RULE_WINDOW if self.is_rule else RATE_WINDOW

    def name(self, metric: SGLangMetric, suffix: str = "") -> str:
        """The bare exposed series name (for rules and `label_values`)."""
        return metric.series(self.prefix, suffix)

    def series(self, metric: SGLangMetric, suffix: str = "", **matchers: str) -> str:
        """`name{instance=~"$instance",model_name=~"$model_name",k="v",...}`."""
        unknown = set(matchers) - {"instance", *sg.LABELS}
        if unknown:
            raise ValueError(f"SGLang's {metric.name} has no labels {sorted(unknown)}")
        every = matchers if self.is_rule else {**DASHBOARD_MATCHERS, **matchers}
        return selector(self.name(metric, suffix), every) if every else self.name(metric, suffix)

    def ranked(self, metric: SGLangMetric, suffix: str = "") -> str:
        """A scheduler metric's selector: the dashboard's and the rank variables' matchers."""
        return self.series(metric, suffix, **({} if self.is_rule else RANK_MATCHERS))

    def agg(self, op: str, metric: SGLangMetric, by: tuple[str, ...] = (), **m: str) -> str:
        """`op by (by...) (selector)`, e.g. the max usage over an instance's DP ranks."""
        return aggregate(op, self.series(metric, **m), by)

    def rate(self, metric: SGLangMetric, by: tuple[str, ...] = ()) -> str:
        _require(metric, SGLangType.COUNTER)
        return aggregate("sum", over_window("rate", self.series(metric)), by)

    def quantile(self, q: float, metric: SGLangMetric, by: tuple[str, ...] = ()) -> str:
        _require(metric, SGLangType.HISTOGRAM)
        return bucket_quantile(q, self.series(metric, "_bucket"), by)


def _require(metric: SGLangMetric, metric_type: SGLangType) -> None:
    if metric.metric_type is not metric_type:
        raise ValueError(
            f"SGLang's {metric.name} is a {metric.metric_type.value}, not a {metric_type.value}"
        )
