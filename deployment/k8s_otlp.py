"""The otlp overlay: the runtime pushes its metrics over OTLP to an OpenTelemetry Collector,
which remote-writes them to a long-term store (Mimir, Thanos Receive, Prometheus with its
remote-write receiver). The runtime's PodMonitor is deleted so that no series arrives twice.

The replica is the OTLP resource's `service.instance.id` (the pod's name, set through
OTEL_RESOURCE_ATTRIBUTES), which the Collector turns into the `instance` label, as the
PodMonitor's relabelling does when scraping; `job` comes from `service.name` (`poolscope`).
"""

from __future__ import annotations

import yaml

from deployment.k8s_names import RUNTIME, metadata
from deployment.k8s_pod import container_security, pod_security, scratch_volume
from deployment.otel_collector import (
    COLLECTOR_IMAGE,
    CONFIG_FILE,
    OTLP_HTTP_PORT,
    REMOTE_WRITE_ENV,
    REMOTE_WRITE_PLACEHOLDER,
    collector_config,
)

NAME = "otel-collector"
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "poolscope"}
RESOURCES = ["otel-collector-configmap.yaml", "otel-collector-deployment.yaml",
             "otel-collector-service.yaml"]
PATCHES = ["runtime-otlp-patch.yaml", "runtime-podmonitor-delete.yaml"]


def _field(name: str, path: str) -> dict[str, object]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def runtime_patch() -> dict[str, object]:
    """OTLP/HTTP to the Collector's Service, with the pod as the resource's instance id.
    NOTE: POD_NAME and POD_NAMESPACE precede the variable that refers to them: Kubernetes
    expands `$(VAR)` only from variables defined earlier in the list."""
    attributes = ("service.instance.id=$(POD_NAME),k8s.pod.name=$(POD_NAME),"
                  "k8s.namespace.name=$(POD_NAMESPACE)")
    env = [
        _field("POD_NAME", "metadata.name"), _field("POD_NAMESPACE", "metadata.namespace"),
        {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": attributes},
        {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": f"http://{NAME}:{OTLP_HTTP_PORT}"},
        {"name": "OTEL_EXPORTER_OTLP_PROTOCOL", "value": "http/protobuf"},
    ]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": RUNTIME.name},
        "spec": {"template": {"spec": {"containers": [{"name": "runtime", "env": env}]}}},
    }


def podmonitor_delete() -> dict[str, object]:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
            "metadata": {"name": RUNTIME.name}, "$patch": "delete"}


def _configmap() -> dict[str, object]:
    config = yaml.safe_dump(collector_config(), sort_keys=False, width=100)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(NAME, LABELS),
            "data": {CONFIG_FILE: config}}


def _container() -> dict[str, object]:
    return {
        "name": "otel-collector", "image": COLLECTOR_IMAGE,
        "args": [f"--config=/etc/otelcol/{CONFIG_FILE}"],
        "env": [{"name": REMOTE_WRITE_ENV, "value": REMOTE_WRITE_PLACEHOLDER}],
        "ports": [{"name": "otlp-http", "containerPort": OTLP_HTTP_PORT, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                      "limits": {"memory": "512Mi"}},
        "securityContext": container_security(),
        "volumeMounts": [{"name": "config", "mountPath": "/etc/otelcol", "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }


def _deployment() -> dict[str, object]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata(NAME, LABELS),
        "spec": {
            "replicas": 1, "selector": {"matchLabels": LABELS},
            "template": {"metadata": {"labels": LABELS}, "spec": {
                "automountServiceAccountToken": False,
                "securityContext": pod_security(),
                "containers": [_container()],
                "volumes": [{"name": "config", "configMap": {"name": NAME}},
                            scratch_volume("tmp")],
            }},
        },
    }


def _service() -> dict[str, object]:
    port = {"name": "otlp-http", "port": OTLP_HTTP_PORT, "targetPort": "otlp-http",
            "protocol": "TCP"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata(NAME, LABELS),
            "spec": {"selector": LABELS, "ports": [port]}}


def objects() -> dict[str, dict[str, object]]:
    made = [_configmap(), _deployment(), _service()]
    return {**dict(zip(RESOURCES, made, strict=True)),
            PATCHES[0]: runtime_patch(), PATCHES[1]: podmonitor_delete()}
