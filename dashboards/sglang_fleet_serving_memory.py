"""The "SGLang serving memory — fleet" dashboard: every selected SGLang server at once, from its
own metrics (instances up and serving, each pool's usage ranked over instances, the bottleneck
pool per instance, leaks from the log exporters, throughput and queue by model), each row
linking to the per-instance SGLang dashboard. Template variables as there.

    dashboard()            # SGLang's `sglang:` names
    dashboard("sglang_")   # for deployments that scrape them as `sglang_...`
"""

from __future__ import annotations

import grafanalib.core as g

from dashboards import sglang_fleet_panels as panels
from dashboards import sglang_serving_memory, stack
from dashboards.grafana_render import dashboard as render_dashboard
from dashboards.panel_spec import PanelSpec, RowSpec
from dashboards.sglang_promql import SGLangQueries
from telemetry.sglang import catalog as sg

TITLE = "poolscope: SGLang serving memory — fleet"
DESCRIPTION = (
    "Fleet view of SGLang servers (metrics prefix {prefix}): which are up and serving, every "
    "pool's usage on every server (ranked, ranks aggregated per server), the bottleneck pool per "
    "server, leaks from poolscope's log exporters, and throughput and queue by model summed "
    "over servers. Every row opens the per-instance SGLang dashboard with that server selected."
)


def rows(prefix: str = sg.DEFAULT_PREFIX) -> tuple[RowSpec, ...]:
    qs = SGLangQueries(prefix)
    return (
        RowSpec("Fleet: servers and their bottleneck pools", panels.overview(qs)),
        RowSpec("Fleet: leaks and double frees per log exporter", (panels.leaks(),)),
        RowSpec("Fleet: usage of every pool on every server", panels.pool_usage(qs)),
        RowSpec("Fleet: serving by model, all selected instances", panels.serving(qs)),
    )


def panel_specs(prefix: str = sg.DEFAULT_PREFIX) -> list[PanelSpec]:
    return [spec for row in rows(prefix) for spec in row.panels]


def templating(prefix: str = sg.DEFAULT_PREFIX) -> g.Templating:
    return sglang_serving_memory.templating(prefix)  # the same variables, so links carry over


def dashboard(prefix: str = sg.DEFAULT_PREFIX) -> g.Dashboard:
    return render_dashboard(
        TITLE, stack.SGLANG_FLEET_DASHBOARD_UID, DESCRIPTION.format(prefix=prefix),
        ["poolscope", "sglang", "fleet"], rows(prefix), templating(prefix),
    )
