"""What one dashboard panel shows, independent of grafanalib: its queries, unit, thresholds and
the description an operator reads. The Grafana JSON is rendered from these (`grafana_render.py`)
and the end-to-end test evaluates every query against a real Prometheus."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"


class Viz(Enum):
    TIMESERIES = "timeseries"
    STAT = "stat"
    TABLE = "table"  # one row per series of an instant query, sorted by value (fleet views)


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str
    is_instant: bool = False  # evaluated at the dashboard's end time only (a "now" stat)


@dataclass(frozen=True)
class Step:
    """A threshold step: `color` from `value` up; the first step has no value (from -infinity)."""

    color: str
    value: float | None = None


@dataclass(frozen=True)
class DataLink:
    """A link on every value of a panel (a table row, a series): Grafana fills in `${...}`
    placeholders such as `${__field.labels.instance}` from the value clicked."""

    title: str
    url: str


@dataclass(frozen=True)
class PanelSpec:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str
    steps: tuple[Step, ...]
    viz: Viz = Viz.TIMESERIES
    is_stacked: bool = False
    min: float | None = None
    max: float | None = None
    width: int = 12
    height: int = 8
    unstacked_series: tuple[str, ...] = ()  # legends drawn as plain lines on a stacked panel
    show_thresholds: bool = False  # draw the threshold steps as lines on a time series
    unstacked_pattern: str = ""  # regex of legends drawn as plain lines, like unstacked_series
    no_value: str = ""  # what the panel says when its queries return nothing ("" = Grafana's)
    links: tuple[DataLink, ...] = ()  # data links on every value (fleet rows → one instance)

    def __post_init__(self) -> None:
        if not self.queries:
            raise ValueError(f"panel {self.title!r} has no query")
        if not self.steps or self.steps[0].value is not None:
            raise ValueError(f"panel {self.title!r}: the first threshold step has no value")
        values = [s.value for s in self.steps[1:] if s.value is not None]
        if len(values) != len(self.steps) - 1 or values != sorted(values):
            raise ValueError(f"panel {self.title!r}: threshold values must increase")
        if not self.description:
            raise ValueError(f"panel {self.title!r} needs a description for the operator")


@dataclass(frozen=True)
class RowSpec:
    """A row of panels. `repeat` names a template variable: the row (its panels included) is
    drawn once per selected value. A collapsed row shows only its title until opened."""

    title: str
    panels: tuple[PanelSpec, ...] = field(default_factory=tuple)
    repeat: str = ""
    is_collapsed: bool = False
