"""Helm values for kube-prometheus-stack: only what its defaults lack for the overlays' objects.

With the chart's defaults, its Prometheus already selects PodMonitors and PrometheusRules labelled
`release: <release>` in every namespace (the overlays set that label), and its Alertmanager every
AlertmanagerConfig in every namespace; values that narrowed those selectors would drop other
teams' objects on a shared stack, so none are set. Grafana's dashboard sidecar, though, watches
only its own namespace by default: these values make it load the overlays' dashboard ConfigMaps
from every namespace, into the folder their annotation names.

NOTE: left at the operator's default on purpose: `alertmanagerConfigMatcherStrategy` (OnNamespace)
confines an AlertmanagerConfig to alerts from its own namespace. docs/kubernetes.md says when to
change it (SGLang pods in another namespace) and what that costs (it is cluster-wide).
"""

from __future__ import annotations

from deployment.k8s_names import DASHBOARD_LABEL, FOLDER_ANNOTATION


def _grafana() -> dict[str, object]:
    label, value = DASHBOARD_LABEL
    dashboards = {
        "enabled": True, "label": label, "labelValue": value, "searchNamespace": "ALL",
        "folderAnnotation": FOLDER_ANNOTATION,
        "provider": {"foldersFromFilesStructure": True},
    }
    return {"sidecar": {"dashboards": dashboards}}


def values_document() -> dict[str, object]:
    return {"grafana": _grafana()}
