"""What `deploy/k8s/` holds: the runtime base, the monitoring base, and the overlays that put
them in a namespace (poolscope, gpu, otlp, sglang), each as `path → object`; the kustomization
files list exactly the objects of their folder."""

from __future__ import annotations

from typing import Any

from dashboards import (
    fleet_serving_memory,
    serving_memory,
    sglang_alerts,
    sglang_fleet_serving_memory,
    sglang_serving_memory,
    stack,
)
from dashboards.alerts import rules_document
from deployment import k8s_monitoring as mon
from deployment import k8s_otlp, k8s_runtime, k8s_sglang
from deployment.k8s_alertmanager import alertmanager_config
from deployment.k8s_names import CUDA_IMAGE_TAG, IMAGE, NAMESPACE, PART_OF, SGLANG_NAMESPACE

Objects = dict[str, dict[str, object]]  # file name in the folder → object


def namespace(name: str, pod_security: str) -> dict[str, object]:
    """Pod Security Admission enforces `pod_security` on every pod of the namespace."""
    labels = {"app.kubernetes.io/part-of": PART_OF,
              "pod-security.kubernetes.io/enforce": pod_security}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def base() -> Objects:
    return {
        "runtime-deployment.yaml": k8s_runtime.deployment(),
        "runtime-service.yaml": k8s_runtime.service(),
        "runtime-podmonitor.yaml": k8s_runtime.podmonitor(),
    }


def monitoring() -> Objects:
    dashboard = mon.dashboard_configmap("poolscope-dashboard", stack.DASHBOARD_FILE,
                                        serving_memory.dashboard())
    fleet = mon.dashboard_configmap("poolscope-fleet-dashboard", stack.FLEET_DASHBOARD_FILE,
                                    fleet_serving_memory.dashboard())
    return {
        "poolscope-prometheusrule.yaml": mon.prometheus_rule("poolscope", rules_document()),
        "poolscope-dashboard.yaml": dashboard,
        "poolscope-fleet-dashboard.yaml": fleet,
        "alertmanagerconfig.yaml": alertmanager_config(NAMESPACE),
        "alert-sink-deployment.yaml": mon.alert_sink_deployment(),
        "alert-sink-service.yaml": mon.alert_sink_service(),
    }


def sglang() -> Objects:
    dashboard = mon.dashboard_configmap("sglang-dashboard", stack.SGLANG_DASHBOARD_FILE,
                                        sglang_serving_memory.dashboard())
    fleet = mon.dashboard_configmap("sglang-fleet-dashboard", stack.SGLANG_FLEET_DASHBOARD_FILE,
                                    sglang_fleet_serving_memory.dashboard())
    rule = mon.prometheus_rule("sglang", sglang_alerts.rules_document())
    return {
        "sglang-podmonitor.yaml": k8s_sglang.sglang_podmonitor(),
        "sglang-prometheusrule.yaml": rule,
        "sglang-dashboard.yaml": dashboard,
        "sglang-fleet-dashboard.yaml": fleet,
        "log-exporter-daemonset.yaml": k8s_sglang.log_exporter_daemonset(),
        "log-exporter-podmonitor.yaml": k8s_sglang.log_exporter_podmonitor(),
    }


def sglang_receivers_patch() -> dict[str, object]:
    """The monitoring base's AlertmanagerConfig with receivers posting to this namespace's
    alert sink (a list in a CRD is replaced whole by a strategic-merge patch)."""
    full: dict[str, Any] = alertmanager_config(SGLANG_NAMESPACE)
    return {"apiVersion": full["apiVersion"], "kind": full["kind"],
            "metadata": {"name": full["metadata"]["name"]},
            "spec": {"receivers": full["spec"]["receivers"]}}


def kustomization(
    resources: list[str], namespace: str | None = None, **extra: object
) -> dict[str, object]:
    doc: dict[str, object] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
    }
    if namespace is not None:
        doc["namespace"] = namespace
    return {**doc, "resources": resources, **extra}


def overlays() -> dict[str, tuple[Objects, dict[str, object]]]:
    """Overlay name → (its own objects and patches, its kustomization)."""
    gpu_image = [{"name": IMAGE.split(":")[0], "newTag": CUDA_IMAGE_TAG}]
    return {
        "poolscope": ({"namespace.yaml": namespace(NAMESPACE, "restricted")}, kustomization(
            ["namespace.yaml", "../../base", "../../monitoring"], NAMESPACE)),
        "gpu": ({"gpu-patch.yaml": k8s_runtime.gpu_patch()}, kustomization(
            ["../poolscope"], images=gpu_image, patches=[{"path": "gpu-patch.yaml"}])),
        "otlp": (k8s_otlp.objects(), kustomization(
            ["../poolscope", *k8s_otlp.RESOURCES], NAMESPACE,
            patches=[{"path": name} for name in k8s_otlp.PATCHES])),
        "sglang": _sglang_overlay(),
    }


def _sglang_overlay() -> tuple[Objects, dict[str, object]]:
    """Standalone, like compose.sglang.yaml: the monitoring base (the log exporter's series are
    poolscope's) plus SGLang's own, in a namespace of its own (the exporter needs hostPath)."""
    own = sglang()
    patch = "alertmanagerconfig-receivers.yaml"
    objects = {"namespace.yaml": namespace(SGLANG_NAMESPACE, "privileged"), **own,
               patch: sglang_receivers_patch()}
    resources = ["namespace.yaml", "../../monitoring", *own]
    return objects, kustomization(resources, SGLANG_NAMESPACE, patches=[{"path": patch}])
