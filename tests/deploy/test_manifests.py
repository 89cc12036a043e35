"""Every overlay renders with `kubectl kustomize`; every core object passes kubernetes-validate
(strict, a current release) and every monitoring.coreos.com object its CRD schema; the workloads
are wired as the issue asks (probes, non-root, read-only root, Secret, volumes, selectors)."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import kubernetes_validate
import pytest

from dashboards import stack
from dashboards.alerts import SCRAPE_JOB
from deployment import k8s_names as names
from deployment.k8s_build import DEPLOY_K8S
from tests.deploy.support import K8S_VERSION, OVERLAYS, crd_errors, find, render
from tests.test_layout import ROOT

CRD_GROUP = "monitoring.coreos.com"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_objects_pass_kubernetes_validate(overlay: str) -> None:
    """Each rendered core object is valid for Kubernetes 1.37 with unknown fields refused."""
    for obj in render(overlay):
        if obj["apiVersion"].startswith(CRD_GROUP):
            continue
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_monitoring_objects_pass_their_crd_schemas(overlay: str) -> None:
    """Each rendered PodMonitor, PrometheusRule and AlertmanagerConfig fits the operator's
    CRD schema, and every overlay has some."""
    crds = [o for o in render(overlay) if o["apiVersion"].startswith(CRD_GROUP)]
    assert crds
    for obj in crds:
        assert crd_errors(obj) == [], f"{obj['kind']}/{obj['metadata']['name']}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_lands_in_the_overlays_namespace(overlay: str) -> None:
    """Every namespaced object carries the overlay's namespace, which the overlay creates."""
    objects = render(overlay)
    (ns,) = find(objects, "Namespace")
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == ns["metadata"]["name"], obj["kind"]


def _runtime(overlay: str) -> dict:
    (deployment,) = find(render(overlay), "Deployment", names.RUNTIME.name)
    return deployment


def test_runtime_is_non_root_read_only_with_health_probes_and_a_secret_key() -> None:
    """The runtime runs as the image's user on a read-only root, probes /health, reads its API
    key from the Secret and its model cache from a volume."""
    spec = _runtime("poolscope")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == names.UID
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
    env = {e["name"]: e for e in container["env"]}
    key_ref = env[names.API_KEY_ENV]["valueFrom"]["secretKeyRef"]
    assert key_ref == {"name": names.API_KEY_SECRET, "key": names.API_KEY_SECRET_KEY}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert env["POOLSCOPE_CACHE_DIR"]["value"] in mounts
    assert {v["name"] for v in spec["volumes"]} >= set(mounts.values())


def test_gpu_overlay_requests_a_gpu_on_the_cuda_image() -> None:
    """The gpu overlay asks for one GPU (request and limit), passes --device cuda and uses the
    CUDA image; the plain overlay asks for none."""
    (gpu,) = _runtime("gpu")["spec"]["template"]["spec"]["containers"]
    (cpu,) = _runtime("poolscope")["spec"]["template"]["spec"]["containers"]
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert gpu["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert gpu["args"][-2:] == ["--device", "cuda"]
    assert gpu["image"].endswith(names.CUDA_IMAGE_TAG)
    assert "nvidia.com/gpu" not in cpu["resources"]["limits"]
    assert gpu["livenessProbe"] == cpu["livenessProbe"]  # the patch kept the rest


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_and_podmonitors_select_pods_of_the_overlay(overlay: str) -> None:
    """Each Service and each PodMonitor (but SGLang's, which selects foreign pods) matches the
    labels of a pod template of the overlay and names one of its container ports."""
    objects = render(overlay)
    pods = [w["spec"]["template"] for k in ("Deployment", "DaemonSet") for w in find(objects, k)]

    def ports_of(selector: dict) -> set:
        chosen = [p for p in pods if selector.items() <= p["metadata"]["labels"].items()]
        assert chosen, selector
        return {port["name"] for p in chosen for c in p["spec"]["containers"]
                for port in c.get("ports", [])}

    for svc in find(objects, "Service"):
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in ports_of(svc["spec"]["selector"])
    for monitor in find(objects, "PodMonitor"):
        if monitor["metadata"]["name"] != "sglang":
            (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
            assert endpoint["port"] in ports_of(monitor["spec"]["selector"]["matchLabels"])


def _relabelled(monitor: dict) -> dict[str, str]:
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    return {r["targetLabel"]: r.get("replacement", r.get("sourceLabels"))
            for r in endpoint["relabelings"]}


def test_podmonitors_label_jobs_as_the_target_down_rules_expect() -> None:
    """The runtime and log exporter are scraped as job `poolscope`, SGLang as `sglang` (the
    jobs of the TargetDown rules), each with instance = the pod's name."""
    expected = {names.RUNTIME.name: SCRAPE_JOB, names.LOG_EXPORTER.name: SCRAPE_JOB,
                "sglang": stack.SGLANG_SCRAPE_JOB}
    monitors = find(render("poolscope"), "PodMonitor") + find(render("sglang"), "PodMonitor")
    assert {m["metadata"]["name"] for m in monitors} == set(expected)
    for monitor in monitors:
        labels = _relabelled(monitor)
        assert labels["job"] == expected[monitor["metadata"]["name"]]
        assert labels["instance"] == ["__meta_kubernetes_pod_name"]
        assert monitor["metadata"]["labels"]["release"] == names.RELEASE


def test_sglang_overlay_reads_pod_logs_read_only_and_monitors_sglang_by_label() -> None:
    """The log exporter is a DaemonSet following the node's pod logs through a read-only
    hostPath; SGLang's PodMonitor selects its pods by label in every namespace."""
    objects = render("sglang")
    (daemonset,) = find(objects, "DaemonSet", names.LOG_EXPORTER.name)
    spec = daemonset["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["args"][:2] == ["logs", "export"] and "--follow" in container["args"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == names.POD_LOG_DIR]
    assert mount["readOnly"] is True
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert volume["hostPath"]["path"] == names.POD_LOG_DIR
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    (sglang,) = find(objects, "PodMonitor", "sglang")
    key, value = names.SGLANG_POD_LABEL
    assert sglang["spec"]["selector"]["matchLabels"] == {key: value}
    assert sglang["spec"]["namespaceSelector"] == {"any": True}


def test_namespaces_enforce_the_strictest_pod_security_their_pods_allow() -> None:
    """The runtime's namespace enforces `restricted`; only the log exporter's, which needs a
    hostPath, is `privileged`."""
    level = "pod-security.kubernetes.io/enforce"
    (plain,) = find(render("poolscope"), "Namespace")
    (sglang,) = find(render("sglang"), "Namespace")
    assert plain["metadata"]["labels"][level] == "restricted"
    assert sglang["metadata"]["labels"][level] == "privileged"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_dashboards_are_configmaps_for_the_grafana_sidecar(overlay: str) -> None:
    """Each dashboard ConfigMap carries the sidecar's label and the compose stack's folder, and
    its JSON defaults to kube-prometheus-stack's datasource."""
    import json

    maps = [c for c in find(render(overlay), "ConfigMap") if "dashboard" in c["metadata"]["name"]]
    assert maps
    label, value = names.DASHBOARD_LABEL
    for configmap in maps:
        assert configmap["metadata"]["labels"][label] == value
        assert configmap["metadata"]["annotations"][names.FOLDER_ANNOTATION] == stack.GRAFANA_FOLDER
        (text,) = configmap["data"].values()
        (variable,) = [v for v in json.loads(text)["templating"]["list"]
                       if v["type"] == "datasource"]
        assert variable["current"]["value"] == names.KPS_DATASOURCE_UID


def test_the_docs_model_patch_swaps_the_volume_for_a_claim(tmp_path: Path) -> None:
    """The patch docs/kubernetes.md shows, applied over overlays/poolscope, leaves the models
    volume a read-only PersistentVolumeClaim (no emptyDir beside it) and passes --model."""
    text = (ROOT / "docs" / "kubernetes.md").read_text()
    (patch,) = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "claimName" in b]
    overlay = tmp_path / "mine"
    overlay.mkdir()
    (overlay / "model.yaml").write_text(textwrap.dedent(patch))
    base = os.path.relpath(DEPLOY_K8S / "overlays" / "poolscope", overlay)  # kustomize: relative
    (overlay / "kustomization.yaml").write_text(
        f"resources: [{base}]\npatches: [{{path: model.yaml}}]\n")
    (deployment,) = find(render("mine", tmp_path), "Deployment", names.RUNTIME.name)
    spec = deployment["spec"]["template"]["spec"]
    (models,) = [v for v in spec["volumes"] if v["name"] == "models"]
    assert models == {"name": "models",
                      "persistentVolumeClaim": {"claimName": "my-models", "readOnly": True}}
    assert "--model" in spec["containers"][0]["args"]


def test_helm_values_make_grafana_load_the_dashboard_configmaps() -> None:
    """The generated kube-prometheus-stack values point Grafana's sidecar at every namespace,
    at the label the dashboard ConfigMaps carry and at their folder annotation."""
    import yaml

    values = yaml.safe_load((DEPLOY_K8S / "kube-prometheus-stack-values.yaml").read_text())
    sidecar = values["grafana"]["sidecar"]["dashboards"]
    (configmap,) = find(render("poolscope"), "ConfigMap", "poolscope-dashboard")
    assert configmap["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"]
    assert sidecar["folderAnnotation"] in configmap["metadata"]["annotations"]
    assert sidecar["searchNamespace"] == "ALL"
