"""The compose stack's Alertmanager routes (`dashboards.alertmanager_config`) as an
AlertmanagerConfig: the same receivers, severity routes, timings and inhibitions, translated to
the CRD's camelCase and structured matchers, with receivers pointing at the in-cluster alert sink.

NOTE: the operator adds a `namespace="<this object's namespace>"` matcher to the first-level route
and to the inhibitions (its default `alertmanagerConfigMatcherStrategy`, OnNamespace): the routes
take the alerts of series from pods in this namespace. The first-level route also matches this
project's alert names only, so that with the strategy `None` (cluster-wide; docs/kubernetes.md)
other teams' alerts still never reach these receivers.
"""

from __future__ import annotations

import re
from typing import Any

from dashboards.alertmanager_config import alertmanager_document
from dashboards.alerts import alert_rules
from dashboards.sglang_alerts import alert_rules as sglang_alert_rules
from deployment.k8s_names import ALERT_SINK, metadata, monitoring_labels

NAME = "poolscope"
_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"(.*)"\s*$')
_TIMINGS = {"group_wait": "groupWait", "group_interval": "groupInterval",
            "repeat_interval": "repeatInterval"}


def sink_url(namespace: str) -> str:
    return f"http://{ALERT_SINK.name}.{namespace}.svc:{ALERT_SINK.port}"


def matcher(text: str) -> dict[str, str]:
    """`severity="critical"` → {"name": "severity", "matchType": "=", "value": "critical"}."""
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(f"not a label matcher: {text!r}")
    name, op, value = found.groups()
    return {"name": name, "matchType": op, "value": value}


def project_alerts() -> list[str]:
    """Every alert this project's rules can raise (poolscope's and SGLang's), sorted."""
    return sorted({rule.name for rule in [*alert_rules(), *sglang_alert_rules()]})


def _route(route: dict[str, Any]) -> dict[str, object]:
    out: dict[str, object] = {"receiver": route["receiver"]}
    if "group_by" in route:
        out["groupBy"] = list(route["group_by"])
    for key, camel in _TIMINGS.items():
        if key in route:
            out[camel] = route[key]
    if "matchers" in route:
        out["matchers"] = [matcher(m) for m in route["matchers"]]
    if "routes" in route:
        out["routes"] = [_route(r) for r in route["routes"]]
    return out


def _receiver(receiver: dict[str, Any]) -> dict[str, object]:
    hooks = [{"url": hook["url"], "sendResolved": hook["send_resolved"]}
             for hook in receiver["webhook_configs"]]
    return {"name": receiver["name"], "webhookConfigs": hooks}


def _inhibition(rule: dict[str, Any]) -> dict[str, object]:
    return {
        "sourceMatch": [matcher(m) for m in rule["source_matchers"]],
        "targetMatch": [matcher(m) for m in rule["target_matchers"]],
        "equal": list(rule["equal"]),
    }


def alertmanager_config(namespace: str) -> dict[str, object]:
    """The AlertmanagerConfig for an overlay whose alert sink runs in `namespace`."""
    doc: dict[str, Any] = alertmanager_document(sink_url=sink_url(namespace))
    route = _route(doc["route"])
    names = "|".join(re.escape(name) for name in project_alerts())
    route["matchers"] = [{"name": "alertname", "matchType": "=~", "value": names}]
    return {
        "apiVersion": "monitoring.coreos.com/v1alpha1", "kind": "AlertmanagerConfig",
        "metadata": metadata(NAME, monitoring_labels()),
        "spec": {
            "route": route,
            "receivers": [_receiver(r) for r in doc["receivers"]],
            "inhibitRules": [_inhibition(r) for r in doc["inhibit_rules"]],
        },
    }
