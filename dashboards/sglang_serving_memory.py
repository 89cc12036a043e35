"""The "SGLang serving memory" dashboard: poolscope's view of serving memory drawn from an
unmodified SGLang server's own /metrics. Template variables: datasource, instance, model_name.

    dashboard()            # SGLang's `sglang:` names (dashboards/generated/sglang/)
    dashboard("sglang_")   # for deployments that scrape them as `sglang_...`
"""

from __future__ import annotations

import grafanalib.core as g

from dashboards import sglang_panels_memory, sglang_panels_serving, stack
from dashboards.grafana_render import dashboard as render_dashboard
from dashboards.grafana_variables import datasource_variable, label_variable
from dashboards.panel_spec import PanelSpec, RowSpec
from dashboards.sglang_fallbacks import SGLangFallbacks
from dashboards.sglang_promql import RANK_LABELS, SGLangQueries
from telemetry.sglang import catalog as sg

TITLE = "poolscope: SGLang serving memory"
DESCRIPTION = (
    "SGLang's serving memory pools (full, swa, mamba, HiCache host) from its own metrics "
    "(prefix {prefix}): usage, available/evictable/used partition, capacity, and the requests, "
    "sessions, cache and latency figures that explain them. Works with SGLang 0.3.6 and "
    "later: each panel falls back to the names older releases export, and its description says "
    "which release gives what (docs/sglang.md has the table)."
)


def rows(prefix: str = sg.DEFAULT_PREFIX) -> tuple[RowSpec, ...]:
    qs = SGLangQueries(prefix)
    fb = SGLangFallbacks(qs)
    return (
        RowSpec("Overview", sglang_panels_memory.overview(fb)),
        RowSpec("Pools", sglang_panels_memory.pools(fb)),
        RowSpec("Requests, cache and sessions", sglang_panels_serving.serving(qs)),
        RowSpec("Latency", sglang_panels_serving.latency(qs)),
    )


def panel_specs(prefix: str = sg.DEFAULT_PREFIX) -> list[PanelSpec]:
    return [spec for row in rows(prefix) for spec in row.panels]


def templating(prefix: str = sg.DEFAULT_PREFIX) -> g.Templating:
    # Every scheduler exports num_running_reqs from its first stats line, whatever the model.
    running = sg.RUNNING_REQS.series(prefix)
    model = sg.MODEL_LABEL
    return g.Templating(list=[
        datasource_variable(),
        label_variable("instance", "Instance", f"label_values({running}, instance)"),
        label_variable(model, "Model",
                       f'label_values({running}{{instance=~"$instance"}}, {model})'),
        # SGLang 0.4.10 on; on older releases the list is empty and All (`.*`) matches all.
        *(label_variable(rank, rank, f'label_values({running}{{instance=~"$instance"}}, {rank})')
          for rank in RANK_LABELS),
    ])


def dashboard(prefix: str = sg.DEFAULT_PREFIX) -> g.Dashboard:
    return render_dashboard(
        TITLE, stack.SGLANG_DASHBOARD_UID, DESCRIPTION.format(prefix=prefix),
        ["poolscope", "sglang"], rows(prefix), templating(prefix),
    )
