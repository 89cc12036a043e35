"""Beyond one Prometheus, through remote_write: the generated configurations pass
`promtool check config`, the Helm values say the same as the plain files, and, end to end, a
long-term store (a second Prometheus receiving remote writes, standing in for Mimir or Thanos)
answers every dashboard panel and evaluates every rule for a real runtime's series."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from dashboards.alerts import RULES_FILE, alert_rules
from dashboards.build import GENERATED
from dashboards.prometheus_config import prometheus_document
from deployment.k8s_build import DEPLOY_K8S
from deployment.remote_write import CLUSTER_LABEL, STORES, Store
from tests.dashboards.processes import _server
from tests.dashboards.test_stack_e2e import TEST_INTERVAL, _assert_panels_have_data, load, runtime
from tests.deploy.support import require
from tests.support import free_port, query, wait_until

AFTER_LOAD_S = 3.0  # three scrapes at TEST_INTERVAL


def _generated(store: Store, name: str) -> dict:
    return yaml.safe_load((DEPLOY_K8S / "remote-write" / store.name / name).read_text())


@pytest.mark.parametrize("store", STORES, ids=lambda s: s.name)
def test_promtool_accepts_the_remote_write_config(store: Store, tmp_path: Path) -> None:
    """The compose Prometheus's configuration with remote_write passes `promtool check config`
    (with the rule file at its path here)."""
    promtool = require("promtool")
    config = _generated(store, "prometheus.yml")
    config["rule_files"] = [str(GENERATED / RULES_FILE)]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run([promtool, "check", "config", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("store", STORES, ids=lambda s: s.name)
def test_remote_write_adds_only_external_labels_and_the_store(store: Store) -> None:
    """The remote-write prometheus.yml is the compose one plus `external_labels` (cluster and
    the store's replica label) and one remote_write entry: scrape labels are untouched."""
    config = _generated(store, "prometheus.yml")
    (entry,) = config.pop("remote_write")
    labels = config["global"].pop("external_labels")
    assert config == prometheus_document()
    assert set(labels) == {CLUSTER_LABEL, store.replica_label}
    assert entry["url"] == store.url


@pytest.mark.parametrize("store", STORES, ids=lambda s: s.name)
def test_helm_values_say_what_the_plain_config_says(store: Store) -> None:
    """kube-prometheus-stack's values write to the same URL with the same queue, cluster label
    and replica label as the plain prometheus.yml."""
    plain = _generated(store, "prometheus.yml")
    spec = _generated(store, "kube-prometheus-stack-values.yaml")["prometheus"]["prometheusSpec"]
    (entry,), (helm,) = plain["remote_write"], spec["remoteWrite"]
    assert helm["url"] == entry["url"]
    assert helm["queueConfig"] == {"maxSamplesPerSend": entry["queue_config"][
        "max_samples_per_send"], "capacity": entry["queue_config"]["capacity"]}
    assert spec["externalLabels"] == {CLUSTER_LABEL: plain["global"]["external_labels"][
        CLUSTER_LABEL]}
    assert spec["replicaExternalLabelName"] == store.replica_label


def _sender_config(tmp: Path, target: str, receiver: str) -> Path:
    """The generated Mimir prometheus.yml with the runtime as a static target, the receiving
    Prometheus as the store, shorter intervals, and no rules or Alertmanager (the store runs
    the rules, as Mimir's or Thanos's ruler does)."""
    config = _generated(STORES[0], "prometheus.yml")
    config["global"] |= {"scrape_interval": TEST_INTERVAL, "evaluation_interval": TEST_INTERVAL}
    del config["rule_files"], config["alerting"]
    (job,) = config["scrape_configs"]
    del job["dns_sd_configs"], job["relabel_configs"]
    job["static_configs"] = [{"targets": [target]}]
    (entry,) = config["remote_write"]
    entry["url"] = f"{receiver}/api/v1/write"
    entry["queue_config"] |= {"batch_send_deadline": "1s"}
    path = tmp / "sender.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _panels_have_data(store: str, instance: str, at: float) -> bool:
    try:
        _assert_panels_have_data(store, instance, has_host_tier=False, at=at)
    except AssertionError:
        return False
    return True


def _store(tmp: Path) -> tuple[Path, list[str], int]:
    config = {"global": {"evaluation_interval": TEST_INTERVAL},
              "rule_files": [str(GENERATED / RULES_FILE)]}
    path, port = tmp / "store.yml", free_port()
    path.write_text(yaml.safe_dump(config))
    args = [f"--config.file={path}", f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver",
            "--log.level=warn"]
    return path, args, port


@pytest.mark.slow
def test_dashboards_and_rules_hold_in_the_long_term_store(hybrid_dir: Path, tmp_path: Path) -> None:
    """A runtime scraped by a Prometheus with the generated remote_write configuration: in the
    store every panel query returns data for the runtime's instance, every rule is healthy, and
    the series carry the cluster label beside the unchanged instance."""
    require("prometheus")
    (tmp_path / "store").mkdir()
    (tmp_path / "sender").mkdir()
    _, store_args, store_port = _store(tmp_path / "store")
    with runtime(hybrid_dir) as rt, _server("prometheus", store_args, store_port,
                                            tmp_path / "store") as store:
        config, port = _sender_config(tmp_path / "sender", rt.instance, store), free_port()
        args = [f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'sender/tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
        with _server("prometheus", args, port, tmp_path / "sender"):
            wait_until(lambda: bool(query(store, 'up{job="poolscope"} == 1')), timeout=60)
            load(rt.url)
            # Remote writes arrive when they arrive, and a slow one could land after the
            # load has left the panels' rate windows: the panels are asked for one moment a
            # few scrapes after the load, polled until the store holds its samples.
            at = time.time() + AFTER_LOAD_S
            wait_until(lambda: time.time() > at and _panels_have_data(store, rt.instance, at),
                       timeout=60)
            groups = httpx.get(f"{store}/api/v1/rules", timeout=10).json()["data"]["groups"]
            loaded = {r["name"]: r for g in groups for r in g["rules"]}
            assert set(loaded) == {r.name for r in alert_rules()}
            assert all(r["health"] == "ok" for r in loaded.values()), loaded
            (up,) = query(store, 'up{job="poolscope"}')
    assert up["metric"]["instance"] == rt.instance
    assert up["metric"][CLUSTER_LABEL] == _generated(STORES[0], "prometheus.yml")["global"][
        "external_labels"][CLUSTER_LABEL]
