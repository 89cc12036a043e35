"""Names, labels and paths the generated Kubernetes objects share: one place, so that the
Deployment, Service, PodMonitor and overlays agree (tests check the rendered overlays)."""

from __future__ import annotations

from dataclasses import dataclass

from dashboards import stack

NAMESPACE = "poolscope"  # overlays/poolscope (and the otlp and gpu overlays built on it)
SGLANG_NAMESPACE = "poolscope-sglang"  # overlays/sglang: its log exporter needs hostPath
IMAGE = "poolscope:0.1.0"  # compose.yaml's image (a test compares); kustomize `images:` retags it
CUDA_IMAGE_TAG = "0.1.0-cuda"  # the gpu overlay's tag: an image built with a CUDA torch
UID = 10001  # the Dockerfile's runtime user and group
CACHE_DIR = "/var/cache/poolscope"  # the Dockerfile's POOLSCOPE_CACHE_DIR: where models live
PART_OF = "poolscope"

# kube-prometheus-stack's defaults: its Prometheus selects PodMonitors and PrometheusRules with
# `release: <helm release>`, its Grafana sidecar loads ConfigMaps labelled `grafana_dashboard: "1"`
# and its Grafana datasource has the uid `prometheus`.
RELEASE = "kube-prometheus-stack"
DASHBOARD_LABEL = ("grafana_dashboard", "1")
FOLDER_ANNOTATION = "grafana_folder"  # read with the sidecar's folderAnnotation (values file)
KPS_DATASOURCE_UID = "prometheus"

API_KEY_SECRET = "poolscope-api-key"  # created by the operator (docs/kubernetes.md)
API_KEY_SECRET_KEY = "api-key"
API_KEY_ENV = "POOLSCOPE_API_KEY"  # read by runtime/config.py

SGLANG_POD_LABEL = ("app.kubernetes.io/name", "sglang")  # how the SGLang pods are found
SGLANG_PORT = 30000  # SGLang's default --port, where its /metrics is served
POD_LOG_DIR = "/var/log/pods"  # the kubelet's per-pod log files (CRI format)


@dataclass(frozen=True)
class Component:
    """One workload: its name (Deployment/DaemonSet, Service and PodMonitor share it), the
    compose service it mirrors (for the port), and its `app.kubernetes.io/component`."""

    name: str
    service: stack.Service
    component: str

    @property
    def port(self) -> int:
        return self.service.port

    @property
    def selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": self.name, "app.kubernetes.io/part-of": PART_OF}

    @property
    def labels(self) -> dict[str, str]:
        return {**self.selector, "app.kubernetes.io/component": self.component}


RUNTIME = Component("poolscope-runtime", stack.RUNTIME, "runtime")
ALERT_SINK = Component(stack.ALERT_SINK.name, stack.ALERT_SINK, "alert-sink")
LOG_EXPORTER = Component(stack.LOG_EXPORTER.name, stack.LOG_EXPORTER, "log-exporter")


def metadata(name: str, labels: dict[str, str] | None = None, **extra: object) -> dict:
    """`metadata` without a namespace: the overlays' kustomization sets it."""
    return {"name": name, "labels": {"app.kubernetes.io/part-of": PART_OF, **(labels or {})},
            **extra}


def monitoring_labels() -> dict[str, str]:
    """Labels on PodMonitors and PrometheusRules, so kube-prometheus-stack's selectors see them."""
    return {"release": RELEASE}
