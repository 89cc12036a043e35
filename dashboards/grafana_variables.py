"""Template variables shared by the dashboards: the datasource picker (defaulting to the stack's
provisioned Prometheus) and multi-value label filters with an All option."""

from __future__ import annotations

import grafanalib.core as g

from dashboards import stack
from dashboards.grafana_render import DATASOURCE_TYPE, DATASOURCE_VAR


def datasource_variable() -> g.Template:
    return g.Template(
        name="datasource", label="Data source", query=DATASOURCE_TYPE, type="datasource",
        default=stack.DATASOURCE_UID,
    )


def label_variable(name: str, label: str, query: str) -> g.Template:
    """A `label_values(...)` variable; All selects `.*`, so selectors use `=~"$name"`."""
    return g.Template(
        name=name, label=label, query=query, dataSource=DATASOURCE_VAR, type="query",
        includeAll=True, multi=True, allValue=".*", default="$__all", refresh=2, sort=1,
    )
