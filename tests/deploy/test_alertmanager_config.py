"""The rendered AlertmanagerConfig routes as alertmanager.yml does: the same tree, timings,
receivers and inhibitions once translated back; and, through amtool, every alert of the rules
reaches the same receiver, while an alert of another project reaches none of ours."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from dashboards import sglang_alerts
from dashboards.alertmanager_config import alertmanager_document
from dashboards.alerts import alert_rules
from deployment.k8s_alertmanager import sink_url
from deployment.k8s_names import NAMESPACE, SGLANG_NAMESPACE
from tests.deploy.support import find, render, require

OVERLAY_NAMESPACES = {"poolscope": NAMESPACE, "sglang": SGLANG_NAMESPACE}
_CAMEL = {"groupBy": "group_by", "groupWait": "group_wait", "groupInterval": "group_interval",
          "repeatInterval": "repeat_interval"}


def _matcher(m: dict) -> str:
    return f'{m["name"]}{m["matchType"]}"{m["value"]}"'


def _route(route: dict) -> dict:
    """The CRD's route back in alertmanager.yml's spelling."""
    out = {"receiver": route["receiver"]}
    out |= {plain: route[camel] for camel, plain in _CAMEL.items() if camel in route}
    if "matchers" in route:
        out["matchers"] = [_matcher(m) for m in route["matchers"]]
    if "routes" in route:
        out["routes"] = [_route(r) for r in route["routes"]]
    return out


def _as_alertmanager_yml(spec: dict) -> dict:
    """What the document says, read back: route, receivers, inhibitions."""
    receivers = [{"name": r["name"], "webhook_configs": [
        {"url": h["url"], "send_resolved": h["sendResolved"]} for h in r["webhookConfigs"]]}
        for r in spec["receivers"]]
    inhibit = [{"source_matchers": [_matcher(m) for m in r["sourceMatch"]],
                "target_matchers": [_matcher(m) for m in r["targetMatch"]],
                "equal": r["equal"]} for r in spec["inhibitRules"]]
    return {"route": _route(spec["route"]), "receivers": receivers, "inhibit_rules": inhibit}


def _spec(overlay: str) -> dict:
    (config,) = find(render(overlay), "AlertmanagerConfig")
    return config["spec"]


@pytest.mark.parametrize("overlay", OVERLAY_NAMESPACES)
def test_routes_receivers_and_inhibitions_match_alertmanager_yml(overlay: str) -> None:
    """Read back, the AlertmanagerConfig is alertmanager.yml with the receivers at this
    namespace's alert sink, plus one first-level matcher on this project's alert names."""
    plain = _as_alertmanager_yml(_spec(overlay))
    matchers = plain["route"].pop("matchers")
    assert len(matchers) == 1 and matchers[0].startswith('alertname=~"')
    expected = alertmanager_document(sink_url=sink_url(OVERLAY_NAMESPACES[overlay]))
    assert plain == expected


def _operator_style(spec: dict) -> dict:
    """An alertmanager.yml built the way the operator merges an AlertmanagerConfig: a root
    route to a `null` receiver with the config's route as a first-level child (continue)."""
    plain = _as_alertmanager_yml(spec)
    child = {**plain["route"], "continue": True}
    route = {"receiver": "null", "group_by": child["group_by"], "routes": [child]}
    return {"route": route, "receivers": [{"name": "null"}, *plain["receivers"]],
            "inhibit_rules": plain["inhibit_rules"]}


def _receiver(amtool: str, config: Path, labels: dict[str, str]) -> str:
    pairs = [f"{key}={value}" for key, value in labels.items()]
    done = subprocess.run([amtool, "config", "routes", "test", f"--config.file={config}", *pairs],
                          capture_output=True, text=True, check=True, timeout=30)
    return done.stdout.strip()


def test_amtool_routes_every_alert_alike(tmp_path: Path) -> None:
    """For each rule's alert (poolscope's and SGLang's), amtool picks the same receiver from the
    AlertmanagerConfig (merged as the operator does) as from alertmanager.yml; a foreign alert
    reaches only the root receiver."""
    amtool = require("amtool")
    plain, merged = tmp_path / "alertmanager.yml", tmp_path / "merged.yml"
    plain.write_text(yaml.safe_dump(alertmanager_document(sink_url=sink_url(NAMESPACE))))
    merged.write_text(yaml.safe_dump(_operator_style(_spec("poolscope"))))
    checked = subprocess.run([amtool, "check-config", str(merged)], capture_output=True,
                             text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for rule in [*alert_rules(), *sglang_alerts.alert_rules()]:
        labels = {"alertname": rule.name, "severity": rule.severity, "instance": "pod-0"}
        assert _receiver(amtool, merged, labels) == _receiver(amtool, plain, labels)
    foreign = {"alertname": "KubePodCrashLooping", "severity": "warning"}
    assert _receiver(amtool, merged, foreign) == "null"
