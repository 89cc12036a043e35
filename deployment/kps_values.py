"""Helm values for kube-prometheus-stack that make its Prometheus, Alertmanager and Grafana pick
up what the overlays create, whatever the chart's defaults of the day:
`helm upgrade --install kube-prometheus-stack prometheus-community/kube-prometheus-stack -f`."""

from __future__ import annotations

from deployment.k8s_names import (
    DASHBOARD_LABEL,
    FOLDER_ANNOTATION,
    PART_OF,
    RELEASE,
)

PART_OF_SELECTOR = {"matchLabels": {"app.kubernetes.io/part-of": PART_OF}}


def _prometheus_spec() -> dict[str, object]:
    """Select PodMonitors and PrometheusRules by the `release` label the overlays set, in every
    namespace (SGLang's pods and the poolscope namespaces alike)."""
    by_release = {"matchLabels": {"release": RELEASE}}
    return {
        "podMonitorSelector": by_release, "podMonitorNamespaceSelector": {},
        "serviceMonitorSelector": by_release, "serviceMonitorNamespaceSelector": {},
        "ruleSelector": by_release, "ruleNamespaceSelector": {},
    }  # fmt: skip


def _alertmanager_spec() -> dict[str, object]:
    """NOTE: matcher strategy `None`: without it the operator confines an AlertmanagerConfig
    to alerts from its own namespace, and SGLang's alerts carry the SGLang pods' namespace. It
    is a cluster-wide choice, so the generated AlertmanagerConfig matches this project's alert
    names only."""
    return {
        "alertmanagerConfigSelector": PART_OF_SELECTOR,
        "alertmanagerConfigNamespaceSelector": PART_OF_SELECTOR,
        "alertmanagerConfigMatcherStrategy": {"type": "None"},
    }


def _grafana() -> dict[str, object]:
    label, value = DASHBOARD_LABEL
    dashboards = {
        "enabled": True, "label": label, "labelValue": value, "searchNamespace": "ALL",
        "folderAnnotation": FOLDER_ANNOTATION,
        "provider": {"foldersFromFilesStructure": True},
    }  # fmt: skip
    return {"sidecar": {"dashboards": dashboards}}


def values_document() -> dict[str, object]:
    return {
        "prometheus": {"prometheusSpec": _prometheus_spec()},
        "alertmanager": {"alertmanagerSpec": _alertmanager_spec()},
        "grafana": _grafana(),
    }
