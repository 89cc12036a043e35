"""PromQL for dashboard panels, built from catalog entries: every selector carries the dashboard's
`instance` and `model` template variables."""

from __future__ import annotations

from telemetry.catalog import Kind, MetricSpec

RATE_WINDOW = "$__rate_interval"  # Grafana's: at least four scrape intervals
DASHBOARD_MATCHERS = {"instance": "$instance", "model": "$model"}  # regex: multi-value and All


def series(spec: MetricSpec, suffix: str = "", **matchers: str) -> str:
    """`name{instance=~"$instance",model=~"$model",k="v",...}`; a value starting with `!` or `~`
    gives `!=` or `=~` (e.g. `state="!~available|evictable"` → `state!~"available|evictable"`)."""
    terms = [f'{label}=~"{value}"' for label, value in DASHBOARD_MATCHERS.items()]
    for label, value in matchers.items():
        if label not in spec.all_labels:
            raise ValueError(f"{spec.prometheus_name} has no label {label!r}")
        op, value = _operator(value)
        terms.append(f'{label}{op}"{value}"')
    return f"{spec.prometheus_name}{suffix}{{{','.join(terms)}}}"


def _operator(value: str) -> tuple[str, str]:
    for prefix, op in (("!~", "!~"), ("!", "!="), ("~", "=~")):
        if value.startswith(prefix):
            return op, value[len(prefix) :]
    return "=", value


def rate(spec: MetricSpec, by: tuple[str, ...] = (), **matchers: str) -> str:
    _require(spec, Kind.COUNTER)
    inner = f"rate({series(spec, **matchers)}[{RATE_WINDOW}])"
    return f"sum by ({', '.join(by)}) ({inner})" if by else f"sum({inner})"


def increase(spec: MetricSpec, by: tuple[str, ...] = (), **matchers: str) -> str:
    _require(spec, Kind.COUNTER)
    inner = f"increase({series(spec, **matchers)}[{RATE_WINDOW}])"
    return f"sum by ({', '.join(by)}) ({inner})" if by else f"sum({inner})"


def quantile(q: float, spec: MetricSpec, by: tuple[str, ...] = ()) -> str:
    """The q-quantile of a histogram over the rate window, across the selected instances."""
    _require(spec, Kind.HISTOGRAM)
    buckets = f"rate({series(spec, '_bucket')}[{RATE_WINDOW}])"
    return f"histogram_quantile({q}, sum by ({', '.join(('le', *by))}) ({buckets}))"


def _require(spec: MetricSpec, kind: Kind) -> None:
    if spec.kind is not kind:
        raise ValueError(f"{spec.prometheus_name} is a {spec.kind.value}, not a {kind.value}")
