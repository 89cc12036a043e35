"""Metric names out of PromQL, and what is wrong with them against a list of exposed series.

No PromQL parser is at hand (promtool parses only whole rule files and says nothing of names), so
expressions are tokenized: strings, label matchers, range selectors and grouping label lists are
blanked first; what remains that looks like an identifier and is neither a function call, an
aggregation operator nor a keyword is a metric name.

    metric_names('sum by (pool) (rate(x_total{a="b"}[5m]))')   # {'x_total'}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
MATCHERS = re.compile(r"\{[^{}]*\}")
RANGE = re.compile(r"\[[^\[\]]*\]")
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
# An identifier not glued to a word, a `$variable`, or a number's digits (`5m`, `1e3`, `0.95`).
IDENTIFIER = re.compile(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)(\s*\()?")
KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and",
    "or", "unless", "atan2", "inf", "nan", "start", "end",
})  # fmt: skip
AGGREGATIONS = frozenset({
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
    "topk", "quantile", "limitk", "limit_ratio",
})  # fmt: skip
COUNTER_FUNCTIONS = ("rate", "irate", "increase", "resets")
PROMETHEUS_OWN = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})


@dataclass(frozen=True)
class Exposed:
    """One series a target exposes: its metric's type and the suffix after the metric's name."""

    kind: str
    suffix: str = ""

    @property
    def is_counter_like(self) -> bool:
        """Monotonic: a counter, or a histogram's `_bucket`/`_sum`/`_count`."""
        return self.kind == "counter" or (self.kind == "histogram" and bool(self.suffix))


def _blank(expr: str) -> str:
    text = STRING.sub('""', expr)
    text = MATCHERS.sub("{}", text)
    text = RANGE.sub("[]", text)
    return GROUPING.sub(r"\1", text)


def metric_names(expr: str) -> set[str]:
    """Every metric name the expression selects."""
    names = set()
    for match in IDENTIFIER.finditer(_blank(expr)):
        word, is_call = match.group(1), match.group(2) is not None
        if is_call or word.lower() in KEYWORDS or word in AGGREGATIONS:
            continue
        names.add(word)
    return names


def _call_bodies(text: str, function: str) -> list[str]:
    """The argument text of every call of `function` in blanked text (parentheses balanced)."""
    bodies = []
    for match in re.finditer(rf"(?<![\w:]){function}\s*\(", text):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0:
                bodies.append(text[start:i])
                break
    return bodies


def problems(expr: str, exposed: Mapping[str, Exposed]) -> list[str]:
    """What the expression gets wrong: series not exposed, a rate over something that is not
    a counter, a quantile over something that is not a histogram's `_bucket`."""
    found = [f"{name}: not exposed" for name in sorted(metric_names(expr))
             if name not in exposed and name not in PROMETHEUS_OWN]  # fmt: skip
    text = _blank(expr)
    for function in COUNTER_FUNCTIONS:
        for body in _call_bodies(text, function):
            for name in sorted(metric_names(body) & set(exposed)):
                if not exposed[name].is_counter_like:
                    found.append(f"{function}({name}): a {exposed[name].kind}, not a counter")
    for body in _call_bodies(text, "histogram_quantile"):
        for name in sorted(metric_names(body) & set(exposed)):
            if (exposed[name].kind, exposed[name].suffix) != ("histogram", "_bucket"):
                found.append(f"histogram_quantile over {name}: not a histogram's _bucket")
    return found
