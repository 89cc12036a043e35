"""Prometheus `remote_write` to a long-term store (Mimir, Thanos Receive): for the compose
stack's Prometheus (its prometheus.yml plus `external_labels` and `remote_write`, checked with
`promtool check config`) and for kube-prometheus-stack (the same, as Helm values).

Labels: `cluster` names the Prometheus's cluster; each HA Prometheus replica adds its own
replica label, which the store drops when it deduplicates (Mimir's HA tracker reads `cluster` and
`__replica__`; Thanos Query's `--query.replica-label` names it). A poolscope replica stays
`{cluster, namespace, instance}` with `instance` the pod (or compose service) name, so the
dashboards' `instance` and `model` selectors hold unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.prometheus_config import prometheus_document

CLUSTER_LABEL = "cluster"
CLUSTER_PLACEHOLDER = "my-cluster"  # NOTE: set it per cluster; equal names would merge series


@dataclass(frozen=True)
class Store:
    """A long-term store: its name, the push URL Prometheus writes to, the replica label it
    deduplicates on, and the placeholder replica value of a single Prometheus."""

    name: str
    url: str
    replica_label: str


MIMIR = Store("mimir", "http://mimir-nginx.mimir.svc/api/v1/push", "__replica__")
THANOS = Store("thanos", "http://thanos-receive.thanos.svc:19291/api/v1/receive",
               "prometheus_replica")
STORES = (MIMIR, THANOS)
QUEUE = {"max_samples_per_send": 2000, "capacity": 10000}  # defaults ×2: bursts of leak events


def remote_write_entry(store: Store) -> dict[str, object]:
    return {"url": store.url, "name": store.name, "queue_config": QUEUE}


def prometheus_document_with(store: Store) -> dict[str, object]:
    """The compose stack's prometheus.yml, writing to `store` too."""
    doc = prometheus_document()
    glob = dict(doc["global"])  # type: ignore[call-overload]
    glob["external_labels"] = {CLUSTER_LABEL: CLUSTER_PLACEHOLDER, store.replica_label: "0"}
    return {**doc, "global": glob, "remote_write": [remote_write_entry(store)]}


def kps_values_with(store: Store) -> dict[str, object]:
    """kube-prometheus-stack values: the operator adds the replica label itself (the pod's
    name) under `replicaExternalLabelName`."""
    entry = {"url": store.url, "name": store.name,
             "queueConfig": {"maxSamplesPerSend": QUEUE["max_samples_per_send"],
                             "capacity": QUEUE["capacity"]}}
    spec = {"externalLabels": {CLUSTER_LABEL: CLUSTER_PLACEHOLDER},
            "replicaExternalLabelName": store.replica_label, "remoteWrite": [entry]}
    return {"prometheus": {"prometheusSpec": spec}}
