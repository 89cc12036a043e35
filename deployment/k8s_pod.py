"""Pieces every generated pod uses: the restricted security context, probes, scratch volumes and
a PodMonitor endpoint that names the replica the way the compose stack's Prometheus does."""

from __future__ import annotations

from deployment.k8s_names import UID, Component, metadata, monitoring_labels

PORT_NAME = "http"
SCRAPE_INTERVAL = "15s"  # compose scrapes every 5s on one machine; a cluster pays per series


def pod_security(uid: int = UID) -> dict[str, object]:
    """Pod-level: the image's non-root user, files it creates in volumes owned by its group."""
    return {
        "runAsNonRoot": uid != 0, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, object]:
    """What Pod Security's `restricted` level asks, plus a read-only root filesystem."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def http_probe(path: str, period_s: int, failures: int) -> dict[str, object]:
    return {
        "httpGet": {"path": path, "port": PORT_NAME},
        "periodSeconds": period_s, "timeoutSeconds": 5, "failureThreshold": failures,
    }


def scratch_volume(name: str) -> dict[str, object]:
    return {"name": name, "emptyDir": {}}


def container_port(component: Component) -> list[dict[str, object]]:
    return [{"name": PORT_NAME, "containerPort": component.port, "protocol": "TCP"}]


def replica_relabelings(job: str) -> list[dict[str, object]]:
    """`job` as the rules expect it (`up{job=...}` drives TargetDown) and `instance` = the pod's
    name: the replica, stable for the pod's life, readable on the dashboards; the operator
    already adds `namespace`, `pod` and `container`."""
    return [
        {"action": "replace", "targetLabel": "job", "replacement": job},
        {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_name"],
         "targetLabel": "instance"},
    ]


def pod_monitor(
    name: str, selector: dict[str, str], job: str, endpoint: dict[str, object],
    namespace_selector: dict[str, object] | None = None,
) -> dict[str, object]:
    """A PodMonitor scraping `endpoint` (`port` or `portNumber`) at /metrics on pods matching
    `selector`, labelled for kube-prometheus-stack."""
    spec: dict[str, object] = {"selector": {"matchLabels": selector}}
    if namespace_selector is not None:
        spec["namespaceSelector"] = namespace_selector
    spec["podMetricsEndpoints"] = [{
        **endpoint, "path": "/metrics", "interval": SCRAPE_INTERVAL,
        "relabelings": replica_relabelings(job),
    }]
    return {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
        "metadata": metadata(name, monitoring_labels()), "spec": spec,
    }


def service(component: Component) -> dict[str, object]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": metadata(component.name, component.labels),
        "spec": {
            "selector": component.selector,
            "ports": [{"name": PORT_NAME, "port": component.port, "targetPort": PORT_NAME,
                       "protocol": "TCP"}],
        },
    }
