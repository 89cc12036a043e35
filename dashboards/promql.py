"""PromQL for dashboard panels. The generic builders (`selector`, `aggregate`, `over_window`,
`bucket_quantile`) take metric names as given; `series`, `rate` and `quantile` build
poolscope's from catalog entries, every selector carrying the dashboard's `instance` and `model`
template variables. `sglang_promql.py` builds SGLang's with the same generic pieces."""

from __future__ import annotations

from collections.abc import Mapping

from telemetry.catalog import Instrument, MetricSpec

RATE_WINDOW = "$__rate_interval"  # Grafana's: at least four scrape intervals
DASHBOARD_MATCHERS = {"instance": "~$instance", "model": "~$model"}  # regex: multi-value and All


def selector(name: str, matchers: Mapping[str, str]) -> str:
    """`name{k="v",...}`; a value starting with `!`, `~` or `!~` gives `!=`, `=~` or `!~` (e.g.
    `state="!~available|evictable"` → `state!~"available|evictable"`)."""
    terms = []
    for label, value in matchers.items():
        op, value = _operator(value)
        terms.append(f'{label}{op}"{value}"')
    return f"{name}{{{','.join(terms)}}}"


def _operator(value: str) -> tuple[str, str]:
    for prefix, op in (("!~", "!~"), ("!", "!="), ("~", "=~")):
        if value.startswith(prefix):
            return op, value[len(prefix) :]
    return "=", value


def aggregate(op: str, inner: str, by: tuple[str, ...] = ()) -> str:
    """`op by (by...) (inner)`, or `op(inner)` over everything."""
    return f"{op} by ({', '.join(by)}) ({inner})" if by else f"{op}({inner})"


def over_window(function: str, series_selector: str) -> str:
    """A range function (`rate`, `increase`) over the dashboard's rate window."""
    return f"{function}({series_selector}[{RATE_WINDOW}])"


def bucket_quantile(q: float, bucket_selector: str, by: tuple[str, ...] = ()) -> str:
    """The q-quantile of a histogram's `_bucket` series over the rate window, across all the
    selected series (kept apart by `by`)."""
    buckets = over_window("rate", bucket_selector)
    return f"histogram_quantile({q}, {aggregate('sum', buckets, ('le', *by))})"


def series(spec: MetricSpec, suffix: str = "", **matchers: str) -> str:
    """`name{instance=~"$instance",model=~"$model",k="v",...}` for a catalog metric."""
    for label in matchers:
        if label not in spec.all_labels:
            raise ValueError(f"{spec.prometheus_name} has no label {label!r}")
    return selector(f"{spec.prometheus_name}{suffix}", {**DASHBOARD_MATCHERS, **matchers})


def rate(spec: MetricSpec, by: tuple[str, ...] = (), **matchers: str) -> str:
    _require(spec, Instrument.COUNTER)
    return aggregate("sum", over_window("rate", series(spec, **matchers)), by)


def quantile(q: float, spec: MetricSpec, by: tuple[str, ...] = ()) -> str:
    """The q-quantile of a histogram over the rate window, across the selected instances."""
    _require(spec, Instrument.HISTOGRAM)
    return bucket_quantile(q, series(spec, "_bucket"), by)


def _require(spec: MetricSpec, instrument: Instrument) -> None:
    if spec.instrument is not instrument:
        raise ValueError(
            f"{spec.prometheus_name} is a {spec.instrument.value}, not a {instrument.value}"
        )
