"""Renders PanelSpecs into a Grafana dashboard with grafanalib, laid out on Grafana's 24-column
grid, one row panel per RowSpec. `grafana_json.py` then fixes what grafanalib writes wrong."""

from __future__ import annotations

from dataclasses import dataclass

import grafanalib.core as g

from dashboards.panel_spec import PanelSpec, RowSpec, Viz

GRID_WIDTH = 24
ROW_HEIGHT = 1
SCHEMA_VERSION = 41  # Grafana 12/13 dashboards; grafanalib's default (12) triggers migrations
DATASOURCE_TYPE = "prometheus"
DATASOURCE_VAR = {"type": DATASOURCE_TYPE, "uid": "${datasource}"}


@dataclass
class _Cursor:
    """Packs panels left to right, wrapping at the grid's width."""

    x: int = 0
    y: int = 0
    line_height: int = 0

    def place(self, width: int, height: int) -> g.GridPos:
        if self.x + width > GRID_WIDTH:
            self.newline()
        pos = g.GridPos(h=height, w=width, x=self.x, y=self.y)
        self.x += width
        self.line_height = max(self.line_height, height)
        return pos

    def newline(self) -> None:
        self.x, self.y, self.line_height = 0, self.y + self.line_height, 0


def _targets(spec: PanelSpec) -> list[g.Target]:
    # A table reads an instant query as rows (one per series, labels as columns).
    form = "table" if spec.viz is Viz.TABLE else "time_series"
    return [
        g.Target(expr=q.expr, legendFormat=q.legend, refId=chr(ord("A") + i),
                 datasource=DATASOURCE_VAR, intervalFactor=1, step=None, instant=q.is_instant,
                 format=form)
        for i, q in enumerate(spec.queries)
    ]


def _steps(spec: PanelSpec) -> list[dict[str, object]]:
    return [{"color": s.color, "value": s.value} for s in spec.steps]


def _unstacked(spec: PanelSpec) -> list[dict[str, object]]:
    """Overrides drawing the named (or matching) series as dashed, unfilled, unstacked lines
    (capacity)."""
    props = [
        {"id": "custom.stacking", "value": {"mode": "none", "group": "A"}},
        {"id": "custom.fillOpacity", "value": 0},
        {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
        {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}},
    ]
    matchers = [{"id": "byName", "options": name} for name in spec.unstacked_series]
    if spec.unstacked_pattern:
        matchers.append({"id": "byRegexp", "options": spec.unstacked_pattern})
    return [{"matcher": matcher, "properties": props} for matcher in matchers]


def _defaults(spec: PanelSpec) -> dict[str, object]:
    """Field defaults grafanalib has no argument for: bounds, the no-data text, data links."""
    links = [{"title": link.title, "url": link.url} for link in spec.links]
    extra = {"min": spec.min, "max": spec.max, "noValue": spec.no_value or None,
             "links": links or None}
    return {k: v for k, v in extra.items() if v is not None}


def _timeseries(spec: PanelSpec, pos: g.GridPos) -> g.Panel:
    return g.TimeSeries(
        title=spec.title, description=spec.description, dataSource=DATASOURCE_VAR,
        targets=_targets(spec), gridPos=pos, unit=spec.unit, thresholds=_steps(spec),
        stacking={"mode": "normal", "group": "A"} if spec.is_stacked else {"mode": "none"},
        fillOpacity=30 if spec.is_stacked else 10, overrides=_unstacked(spec),
        thresholdsStyleMode="line" if spec.show_thresholds else "off",
        legendDisplayMode="table", legendPlacement="bottom", legendCalcs=["lastNotNull", "max"],
        tooltipMode="multi", tooltipSort="desc", colorMode="palette-classic",
        extraJson={"fieldConfig": {"defaults": _defaults(spec)}},
    )


def _stat(spec: PanelSpec, pos: g.GridPos) -> g.Panel:
    return g.Stat(
        title=spec.title, description=spec.description, dataSource=DATASOURCE_VAR,
        targets=_targets(spec), gridPos=pos, format=spec.unit, thresholds=_steps(spec),
        reduceCalc="lastNotNull", textMode="value_and_name", colorMode="background",
        graphMode="none" if all(q.is_instant for q in spec.queries) else "area",
        color={"mode": "thresholds"}, noValue=spec.no_value or "no data",
        extraJson={"fieldConfig": {"defaults": _defaults(spec)}},
    )


# The time of an instant query's row says nothing a fleet table needs.
_HIDE_TIME = {"matcher": {"id": "byName", "options": "Time"},
              "properties": [{"id": "custom.hidden", "value": True}]}


def _table(spec: PanelSpec, pos: g.GridPos) -> g.Panel:
    """Rows sorted by value, highest first, each cell coloured by the thresholds."""
    # NOTE: cellOptions, Grafana's current field; grafana_json drops grafanalib's legacy
    # displayMode, which Grafana would migrate over it.
    custom = {"align": "auto", "cellOptions": {"type": "color-background"}, "filterable": False}
    defaults = {**_defaults(spec), "thresholds": {"mode": "absolute", "steps": _steps(spec)},
                "color": {"mode": "thresholds"}, "custom": custom}
    return g.Table(
        title=spec.title, description=spec.description, dataSource=DATASOURCE_VAR,
        targets=_targets(spec), gridPos=pos, unit=spec.unit,
        sortBy=[g.TableSortByField(displayName="Value", desc=True)], overrides=[_HIDE_TIME],
        extraJson={"fieldConfig": {"defaults": defaults}},
    )


_RENDER = {Viz.TIMESERIES: _timeseries, Viz.STAT: _stat, Viz.TABLE: _table}


def _panel(spec: PanelSpec, pos: g.GridPos) -> g.Panel:
    return _RENDER[spec.viz](spec, pos)


def _row(row: RowSpec, pos: g.GridPos, children: list[g.Panel]) -> g.RowPanel:
    repeat = g.Repeat(variable=row.repeat) if row.repeat else g.Repeat()
    if row.is_collapsed:  # Grafana keeps a collapsed row's panels inside it
        return g.RowPanel(title=row.title, gridPos=pos, repeat=repeat, collapsed=True,
                          panels=children)
    return g.RowPanel(title=row.title, gridPos=pos, repeat=repeat)


def panels(rows: tuple[RowSpec, ...]) -> list[g.Panel]:
    """Row panels followed by their panels (or holding them, when collapsed), with grid
    positions; a collapsed row takes only its title's height."""
    out: list[g.Panel] = []
    cursor = _Cursor()
    for row in rows:
        cursor.newline()
        pos = cursor.place(GRID_WIDTH, ROW_HEIGHT)
        cursor.newline()
        children = [_panel(spec, cursor.place(spec.width, spec.height)) for spec in row.panels]
        out.append(_row(row, pos, children))
        if row.is_collapsed:
            cursor = _Cursor(y=pos.y + ROW_HEIGHT)
        else:
            out.extend(children)
    return out


def dashboard(
    title: str, uid: str, description: str, tags: list[str], rows: tuple[RowSpec, ...],
    templating: g.Templating, refresh: str = "10s",
) -> g.Dashboard:
    """The dashboard both generated dashboards share the settings of: last 30 minutes, shared
    crosshair, read-only (provisioned files are the source of truth)."""
    return g.Dashboard(
        title=title, uid=uid, description=description, tags=tags, panels=panels(rows),
        templating=templating, refresh=refresh, time=g.Time("now-30m", "now"),
        schemaVersion=SCHEMA_VERSION, timezone="browser",
        graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR, editable=False,
    ).auto_panel_ids()
