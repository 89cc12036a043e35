"""Metric names out of PromQL, and what is wrong with them against a list of exposed series.

Expressions are parsed with `promql-parser` (the Rust PromQL parser's Python binding) and the tree
is walked: every vector selector names a metric (by name or by a `__name__="..."` matcher), and
each selector is seen with the functions that enclose it. Grafana's range variables
(`$__rate_interval`, ...) are not PromQL, so they are replaced by a duration before parsing.

    metric_names('sum by (pool) (rate(x_total{a="b"}[5m]))')   # {'x_total'}
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import promql_parser as pp

COUNTER_FUNCTIONS = ("rate", "irate", "increase", "resets")
PROMETHEUS_OWN = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
# A Grafana variable in a duration position (`[$__rate_interval]`, `[$window]`).
GRAFANA_DURATION = re.compile(r"\$\{?\w+\}?(?=\s*[\]:])")


@dataclass(frozen=True)
class Exposed:
    """One series a target exposes: its metric's type and the suffix after the metric's name."""

    metric_type: str
    suffix: str = ""

    @property
    def is_counter_like(self) -> bool:
        """Monotonic: a counter, or a histogram's `_bucket`/`_sum`/`_count`."""
        if self.metric_type == "histogram":
            return bool(self.suffix)
        return self.metric_type == "counter"


@dataclass(frozen=True)
class Selection:
    """One selected metric, with the names of the functions around it (outermost first)."""

    name: str
    functions: tuple[str, ...]


def parse(expr: str) -> pp.Expr:
    """The expression's tree; raises ValueError on PromQL that does not parse."""
    return pp.parse(GRAFANA_DURATION.sub("5m", expr))


def _selector_name(selector: pp.VectorSelector) -> str | None:
    if selector.name:
        return selector.name
    for matcher in selector.matchers.matchers:
        if matcher.name == "__name__" and matcher.op == pp.MatchOp.Equal:
            return matcher.value
    return None


def _children(node: pp.Expr) -> Iterator[pp.Expr]:
    if isinstance(node, pp.BinaryExpr):
        yield from (node.lhs, node.rhs)
    elif isinstance(node, pp.AggregateExpr):
        yield from (node.expr, *([node.param] if node.param is not None else []))
    elif isinstance(node, pp.Call):
        yield from node.args
    elif isinstance(node, pp.MatrixSelector):
        yield node.vector_selector
    elif isinstance(node, pp.ParenExpr | pp.UnaryExpr | pp.SubqueryExpr):
        yield node.expr


def selections(expr: str) -> list[Selection]:
    """Every metric the expression selects, each with its enclosing function calls."""
    found: list[Selection] = []

    def visit(node: pp.Expr, functions: tuple[str, ...]) -> None:
        if isinstance(node, pp.VectorSelector):
            name = _selector_name(node)
            if name is not None:
                found.append(Selection(name, functions))
            return
        inner = (*functions, node.func.name) if isinstance(node, pp.Call) else functions
        for child in _children(node):
            visit(child, inner)

    visit(parse(expr), ())
    return found


def metric_names(expr: str) -> set[str]:
    """Every metric name the expression selects."""
    return {selection.name for selection in selections(expr)}


def problems(expr: str, exposed: Mapping[str, Exposed]) -> list[str]:
    """What the expression gets wrong: series not exposed, a rate over something that is not
    a counter, a quantile over something that is not a histogram's `_bucket`."""
    chosen = selections(expr)
    found = [f"{name}: not exposed" for name in sorted({s.name for s in chosen})
             if name not in exposed and name not in PROMETHEUS_OWN]
    for selection in chosen:
        if selection.name not in exposed:
            continue
        series = exposed[selection.name]
        for function in COUNTER_FUNCTIONS:
            if function in selection.functions and not series.is_counter_like:
                found.append(f"{function}({selection.name}): a {series.metric_type}, not a counter")
        if "histogram_quantile" in selection.functions and (series.metric_type, series.suffix) != (
            "histogram", "_bucket"
        ):
            found.append(f"histogram_quantile over {selection.name}: not a histogram's _bucket")
    return sorted(set(found), key=found.index)
