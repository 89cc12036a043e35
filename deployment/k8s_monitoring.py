"""Monitoring objects built from the same builders as `dashboards/generated/`: the rule files as
PrometheusRules, the dashboards as ConfigMaps for kube-prometheus-stack's Grafana sidecar, and
the alert sink (`poolscope alert-sink`) that the AlertmanagerConfig's receivers post to."""

from __future__ import annotations

import json

from dashboards import stack
from dashboards.grafana_json import dashboard_json
from deployment.k8s_names import (
    ALERT_SINK,
    DASHBOARD_LABEL,
    FOLDER_ANNOTATION,
    IMAGE,
    KPS_DATASOURCE_UID,
    metadata,
    monitoring_labels,
)
from deployment.k8s_pod import (
    container_port,
    container_security,
    http_probe,
    pod_security,
    scratch_volume,
)
from deployment.k8s_pod import service as component_service


def prometheus_rule(name: str, rules_document: dict[str, object]) -> dict[str, object]:
    """A rule file's groups, unchanged, as a PrometheusRule."""
    return {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
        "metadata": metadata(name, monitoring_labels()),
        "spec": {"groups": rules_document["groups"]},
    }


def kps_dashboard(dashboard: object) -> str:
    """The dashboard's JSON with its datasource variable defaulting to kube-prometheus-stack's
    Prometheus (uid `prometheus`) instead of the compose stack's provisioned one."""
    data = json.loads(dashboard_json(dashboard))  # type: ignore[arg-type]
    for variable in data["templating"]["list"]:
        if variable["type"] == "datasource":
            variable["current"] = {**variable["current"], "text": KPS_DATASOURCE_UID,
                                   "value": KPS_DATASOURCE_UID}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def dashboard_configmap(name: str, file_name: str, dashboard: object) -> dict[str, object]:
    """One dashboard per ConfigMap (each stays far below the 256 KiB that client-side apply
    keeps in an annotation), labelled for the sidecar, in the compose stack's folder."""
    label, value = DASHBOARD_LABEL
    meta = metadata(name, {label: value},
                    annotations={FOLDER_ANNOTATION: stack.GRAFANA_FOLDER})
    data = {file_name.rsplit("/", 1)[-1]: kps_dashboard(dashboard)}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def alert_sink_deployment() -> dict[str, object]:
    args = ["alert-sink", "--host", "0.0.0.0", "--port", str(ALERT_SINK.port)]
    container = {
        "name": "alert-sink", "image": IMAGE, "args": args, "ports": container_port(ALERT_SINK),
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"},
                      "limits": {"memory": "256Mi"}},
        "livenessProbe": http_probe("/health", 10, 3),
        "readinessProbe": http_probe("/health", 5, 2),
        "securityContext": container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": metadata(ALERT_SINK.name, ALERT_SINK.labels),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": ALERT_SINK.selector},
            "template": {
                "metadata": {"labels": ALERT_SINK.labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    "containers": [container],
                    "volumes": [scratch_volume("tmp")],
                },
            },
        },
    }


def alert_sink_service() -> dict[str, object]:
    return component_service(ALERT_SINK)
