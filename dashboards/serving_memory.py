"""The "Serving memory" dashboard: every pool of every selected runtime, its leaks, and the
serving figures that tell why a pool fills. Template variables: datasource, instance, model."""

from __future__ import annotations

import grafanalib.core as g

from dashboards import panels_memory, panels_serving, stack
from dashboards.grafana_render import dashboard as render_dashboard
from dashboards.grafana_variables import datasource_variable, label_variable
from dashboards.panel_spec import PanelSpec, RowSpec
from telemetry import catalog

TITLE = "poolscope: Serving memory"
REFRESH = "10s"
DESCRIPTION = (
    "Every serving memory pool of poolscope runtimes (full, swa, mamba, req, host): usage, slot "
    "partition (one row per instance), leaks, and the requests, cache and latency figures that "
    "explain them."
)


def rows() -> tuple[RowSpec, ...]:
    return (
        RowSpec("Overview", panels_memory.overview()),
        RowSpec("Pools", panels_memory.pools()),
        RowSpec("Slot partition on $instance", panels_memory.partitions(), repeat="instance"),
        RowSpec("Host tier on $instance (open when it runs with --host-tier)",
                panels_memory.host_tier(), repeat="instance", is_collapsed=True),
        RowSpec("Leaks and the invariant checker", panels_memory.leaks()),
        RowSpec("Requests, cache and sessions", panels_serving.serving()),
        RowSpec("Latency", panels_serving.latency()),
    )


def panel_specs() -> list[PanelSpec]:
    return [spec for row in rows() for spec in row.panels]


def templating() -> g.Templating:
    # NOTE: pool usage is served by every runtime and by `poolscope logs export` (which has no
    # capacity figure), so exporter instances are listed too.
    usage = catalog.POOL_USAGE.prometheus_name
    return g.Templating(list=[
        datasource_variable(),
        label_variable("instance", "Instance", f"label_values({usage}, instance)"),
        label_variable("model", "Model", f'label_values({usage}{{instance=~"$instance"}}, model)'),
    ])


def dashboard() -> g.Dashboard:
    return render_dashboard(TITLE, stack.DASHBOARD_UID, DESCRIPTION, ["poolscope"], rows(),
                            templating(), refresh=REFRESH)
