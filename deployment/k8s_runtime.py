"""The runtime's objects: a Deployment of `poolscope serve` (non-root, read-only root
filesystem, the API key from a Secret, the model from a volume, /health probes), its Service and
the PodMonitor that scrapes it as job `poolscope`; and the gpu overlay's patch."""

from __future__ import annotations

from dashboards.alerts import SCRAPE_JOB
from deployment.k8s_names import (
    API_KEY_ENV,
    API_KEY_SECRET,
    API_KEY_SECRET_KEY,
    CACHE_DIR,
    IMAGE,
    RUNTIME,
    metadata,
)
from deployment.k8s_pod import (
    PORT_NAME,
    container_port,
    container_security,
    http_probe,
    pod_monitor,
    pod_security,
    scratch_volume,
)
from deployment.k8s_pod import service as component_service

REPLICAS = 2
MODEL_VOLUME = "models"
# The same flags as compose.yaml's runtime: every pool (the host tier too) is live.
SERVE_ARGS = ["serve", "--host", "0.0.0.0", "--port", str(RUNTIME.port), "--host-tier"]
RESOURCES = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "4Gi"}}
GPU_RESOURCE = "nvidia.com/gpu"  # the NVIDIA device plugin's resource name


def _env() -> list[dict[str, object]]:
    key_ref = {"name": API_KEY_SECRET, "key": API_KEY_SECRET_KEY}
    return [
        {"name": API_KEY_ENV, "valueFrom": {"secretKeyRef": key_ref}},
        {"name": "POOLSCOPE_CACHE_DIR", "value": CACHE_DIR},
        # NOTE: the root filesystem is read-only; libraries that keep a cache or config under
        # $HOME (matplotlib, tokenizers) get the scratch volume instead.
        {"name": "HOME", "value": "/tmp"},
    ]


def _container() -> dict[str, object]:
    return {
        "name": "runtime", "image": IMAGE, "args": SERVE_ARGS, "env": _env(),
        "ports": container_port(RUNTIME), "resources": RESOURCES,
        # The first start builds the default model into the volume: allow it 10 minutes.
        "startupProbe": http_probe("/health", 5, 120),
        "livenessProbe": http_probe("/health", 10, 3),
        "readinessProbe": http_probe("/health", 5, 2),
        "securityContext": container_security(),
        "volumeMounts": [{"name": MODEL_VOLUME, "mountPath": CACHE_DIR},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }


def _model_volume() -> dict[str, object]:
    """emptyDir: each replica builds the deterministic default model on first start, as the
    compose stack's cache volume does. A real model: replace it with a PersistentVolumeClaim
    (read-only) and pass `--model` (docs/kubernetes.md shows the patch)."""
    return scratch_volume(MODEL_VOLUME)


def deployment() -> dict[str, object]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": metadata(RUNTIME.name, RUNTIME.labels),
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": RUNTIME.selector},
            "template": {
                "metadata": {"labels": RUNTIME.labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    "containers": [_container()],
                    "volumes": [_model_volume(), scratch_volume("tmp")],
                },
            },
        },
    }


def service() -> dict[str, object]:
    return component_service(RUNTIME)


def podmonitor() -> dict[str, object]:
    return pod_monitor(RUNTIME.name, RUNTIME.selector, SCRAPE_JOB, {"port": PORT_NAME})


def gpu_patch() -> dict[str, object]:
    """Strategic-merge patch: one GPU per replica (request = limit, as extended resources
    require) and `--device cuda`."""
    gpu = {GPU_RESOURCE: "1"}
    resources = {"requests": {**RESOURCES["requests"], **gpu},
                 "limits": {**RESOURCES["limits"], **gpu}}
    container = {"name": "runtime", "args": [*SERVE_ARGS, "--device", "cuda"],
                 "resources": resources}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": RUNTIME.name},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }
