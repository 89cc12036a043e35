"""The "Serving memory" dashboard: every pool of every selected runtime, its leaks, and the
serving figures that tell why a pool fills. Template variables: datasource, instance, model."""

from __future__ import annotations

import grafanalib.core as g

from dashboards import panels_memory, panels_serving, stack
from dashboards.grafana_render import DATASOURCE_TYPE, DATASOURCE_VAR, SCHEMA_VERSION, panels
from dashboards.panel_spec import PanelSpec, RowSpec
from telemetry import catalog

TITLE = "poolscope: Serving memory"
REFRESH = "10s"
DESCRIPTION = (
    "Every serving memory pool of poolscope runtimes (full, swa, mamba, req, host): usage, slot "
    "partition, leaks, and the requests, cache and latency figures that explain them."
)


def rows() -> tuple[RowSpec, ...]:
    return (
        RowSpec("Overview", panels_memory.overview()),
        RowSpec("Pools", panels_memory.pools()),
        RowSpec("Leaks and the invariant checker", panels_memory.leaks()),
        RowSpec("Requests, cache and sessions", panels_serving.serving()),
        RowSpec("Latency", panels_serving.latency()),
    )


def panel_specs() -> list[PanelSpec]:
    return [spec for row in rows() for spec in row.panels]


def _label_variable(name: str, label: str, query: str) -> g.Template:
    return g.Template(
        name=name, label=label, query=query, dataSource=DATASOURCE_VAR, type="query",
        includeAll=True, multi=True, allValue=".*", default="$__all", refresh=2, sort=1,
    )  # fmt: skip


def templating() -> g.Templating:
    capacity = catalog.POOL_CAPACITY.prometheus_name  # present for every pool of every runtime
    datasource = g.Template(
        name="datasource", label="Data source", query=DATASOURCE_TYPE, type="datasource",
        default=stack.DATASOURCE_UID,
    )  # fmt: skip
    return g.Templating(list=[
        datasource,
        _label_variable("instance", "Instance", f"label_values({capacity}, instance)"),
        _label_variable("model", "Model",
                        f'label_values({capacity}{{instance=~"$instance"}}, model)'),
    ])  # fmt: skip


def dashboard() -> g.Dashboard:
    return g.Dashboard(
        title=TITLE, uid=stack.DASHBOARD_UID, description=DESCRIPTION, tags=["poolscope"],
        panels=panels(rows()), templating=templating(), refresh=REFRESH,
        time=g.Time("now-30m", "now"), schemaVersion=SCHEMA_VERSION, timezone="browser",
        graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR, editable=False,
    ).auto_panel_ids()  # fmt: skip
