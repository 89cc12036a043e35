"""The "Serving memory — fleet" dashboard: every selected poolscope instance at once (instances
up and serving, each pool's usage ranked over instances, leaks per instance, the bottleneck pool
per instance, throughput and queue by model), each row linking to the per-instance "Serving
memory" dashboard with that instance selected. Template variables as there: datasource,
instance, model."""

from __future__ import annotations

import grafanalib.core as g

from dashboards import fleet_panels, serving_memory, stack
from dashboards.grafana_render import dashboard as render_dashboard
from dashboards.panel_spec import PanelSpec, RowSpec

TITLE = "poolscope: Serving memory — fleet"
DESCRIPTION = (
    "Fleet view of poolscope runtimes: which instances are up and serving, every pool's usage "
    "on every instance (ranked), leaks and double frees per instance, the bottleneck pool per "
    "instance, and throughput and queue by model summed over instances. Every row opens the "
    "per-instance 'Serving memory' dashboard with that instance selected."
)


def rows() -> tuple[RowSpec, ...]:
    return (
        RowSpec("Fleet: instances and their bottleneck pools", fleet_panels.overview()),
        RowSpec("Fleet: leaks and double frees per instance", fleet_panels.leak_panels()),
        RowSpec("Fleet: usage of every pool on every instance", fleet_panels.pool_usage()),
        RowSpec("Fleet: serving by model, all selected instances", fleet_panels.serving()),
    )


def panel_specs() -> list[PanelSpec]:
    return [spec for row in rows() for spec in row.panels]


def templating() -> g.Templating:
    return serving_memory.templating()  # the same variables, so links carry over


def dashboard() -> g.Dashboard:
    return render_dashboard(TITLE, stack.FLEET_DASHBOARD_UID, DESCRIPTION,
                            ["poolscope", "fleet"], rows(), templating(),
                            refresh=serving_memory.REFRESH)
