"""Data links from a fleet view to a per-instance dashboard: a table row or a series names an
instance (or a model), and the link opens that dashboard with it selected, keeping the time range
and the data source."""

from __future__ import annotations

from dashboards.panel_spec import DataLink, Viz

ALL = "$__all"
_KEEP = "var-datasource=${datasource}&${__url_time_range}"


def _value_of(label: str, viz: Viz) -> str:
    """The clicked value's label: a table cell reads its row's column, a series its label."""
    if viz is Viz.TABLE:
        return f"${{__data.fields.{label}}}"
    return f"${{__field.labels.{label}}}"


def to_instance(uid: str, viz: Viz, what: str = "this instance") -> tuple[DataLink, ...]:
    """Opens the dashboard `uid` with the clicked row's instance selected."""
    url = f"/d/{uid}?var-instance={_value_of('instance', viz)}&{_KEEP}"
    return (DataLink(f"Open {what} on the per-instance dashboard", url),)


def to_model(uid: str, viz: Viz, model_label: str) -> tuple[DataLink, ...]:
    """Opens the dashboard `uid` with every instance and the clicked series' model selected."""
    url = f"/d/{uid}?var-instance={ALL}&var-{model_label}={_value_of(model_label, viz)}&{_KEEP}"
    return (DataLink("Open this model's instances on the per-instance dashboard", url),)


def to_all(uid: str) -> tuple[DataLink, ...]:
    """Opens the dashboard `uid` with every instance selected (for counts over the fleet)."""
    return (DataLink("Open every instance on the per-instance dashboard",
                     f"/d/{uid}?var-instance={ALL}&{_KEEP}"),)
