"""The generated alertmanager.yml: valid for amtool, every rule routed by its severity, and,
end to end, Debian's Alertmanager delivering to the alert sink by route, with a down target
silencing its other alerts."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dashboards import sglang_alerts
from dashboards.alertmanager_config import (
    ALERTMANAGER_FILE,
    DEFAULT_RECEIVER,
    SGLANG_TARGET_DOWN_ALERT,
    TARGET_DOWN_ALERT,
    TARGET_DOWN_ALERTS,
    RouteTimings,
    alertmanager_document,
)
from dashboards.alerts import AlertRule, alert_rules
from dashboards.build import GENERATED, to_yaml
from telemetry.alerts.sink import AlertSink, ReceivedAlert
from telemetry.logs.logging import reset_logging
from tests.dashboards.processes import alertmanager

AMTOOL = shutil.which("amtool")
ALERTMANAGER = shutil.which("prometheus-alertmanager")
needs_amtool = pytest.mark.skipif(AMTOOL is None, reason="needs amtool (prometheus-alertmanager)")
GENERATED_FILE = GENERATED / ALERTMANAGER_FILE
FAST = RouteTimings(group_wait="1s", group_interval="1s", repeat_interval="1h")
WAIT_S = 30  # bound on every wait for Alertmanager; a pass takes a few seconds


def _routes(config: Path, **labels: str) -> str:
    """The receiver(s) amtool resolves this label set to, as it prints them."""
    assert AMTOOL is not None
    pairs = [f"{key}={value}" for key, value in labels.items()]
    result = subprocess.run(
        [AMTOOL, "config", "routes", "test", f"--config.file={config}", *pairs],
        capture_output=True, text=True, check=True, timeout=30,
    )
    return result.stdout.strip()


@needs_amtool
def test_amtool_accepts_the_generated_config() -> None:
    """`amtool check-config` passes on the committed alertmanager.yml."""
    assert AMTOOL is not None
    result = subprocess.run([AMTOOL, "check-config", str(GENERATED_FILE)],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_amtool
@pytest.mark.parametrize(
    "rule", alert_rules() + sglang_alerts.alert_rules(), ids=lambda rule: rule.name
)
def test_every_rule_routes_to_its_severity(rule: AlertRule) -> None:
    """Each alert rule, poolscope's and SGLang's, with the labels it fires with, reaches the
    receiver named for its severity (critical or warning)."""
    labels = {"alertname": rule.name, "severity": rule.severity, "instance": "runtime"}
    assert rule.severity in ("critical", "warning")
    assert _routes(GENERATED_FILE, **labels, pool="full") == rule.severity


@needs_amtool
def test_alerts_without_a_known_severity_go_to_the_default_receiver() -> None:
    """No severity, or one no route knows, falls through to the default receiver."""
    assert _routes(GENERATED_FILE, alertname="Other") == DEFAULT_RECEIVER
    assert _routes(GENERATED_FILE, alertname="Other", severity="info") == DEFAULT_RECEIVER


def test_receivers_post_to_the_sink_by_name_with_resolved() -> None:
    """Every receiver is one webhook to `<sink>/<its name>` that also sends resolutions, and
    the inhibition names a rule that exists."""
    document = alertmanager_document(sink_url="http://sink:1/")
    hooks = {r["name"]: r["webhook_configs"] for r in document["receivers"]}
    assert hooks == {
        name: [{"url": f"http://sink:1/{name}", "send_resolved": True}]
        for name in ("critical", "warning", DEFAULT_RECEIVER)
    }
    assert TARGET_DOWN_ALERT in {rule.name for rule in alert_rules()}
    assert SGLANG_TARGET_DOWN_ALERT in {rule.name for rule in sglang_alerts.alert_rules()}


def test_each_target_down_alert_inhibits_its_instances_other_alerts() -> None:
    """PoolscopeTargetDown and SGLangTargetDown each mute every other alert of the same
    instance (and not themselves)."""
    inhibitions = alertmanager_document()["inhibit_rules"]
    assert inhibitions == [
        {"source_matchers": [f'alertname="{name}"'],
         "target_matchers": [f'alertname!="{name}"'], "equal": ["instance"]}
        for name in TARGET_DOWN_ALERTS
    ]
    assert set(TARGET_DOWN_ALERTS) == {TARGET_DOWN_ALERT, SGLANG_TARGET_DOWN_ALERT}


# --- end to end: Debian's Alertmanager posting to an in-process sink ---------------------------


@dataclass
class _Stack:
    alertmanager: str  # its base URL
    sink: AlertSink

    def post(self, *alerts: dict[str, object]) -> None:
        request = urllib.request.Request(
            f"{self.alertmanager}/api/v2/alerts", data=json.dumps(list(alerts)).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def alert_states(self, instance: str) -> list[dict[str, object]]:
        """Alertmanager's view of this instance's alerts (labels and status)."""
        query = urllib.parse.urlencode({"filter": f'instance="{instance}"'})
        with urllib.request.urlopen(f"{self.alertmanager}/api/v2/alerts?{query}", timeout=10) as r:
            return json.loads(r.read())

    def wait_delivered(self, predicate: Callable[[ReceivedAlert], bool]) -> bool:
        return self.sink.wait_for(lambda got: any(map(predicate, got)), timeout_s=WAIT_S)


def _alert(name: str, severity: str, instance: str, **labels: str) -> dict[str, object]:
    return {
        "labels": {"alertname": name, "severity": severity, "instance": instance, **labels},
        "annotations": {"summary": f"{name} on {instance}"},
        "startsAt": datetime.now(UTC).isoformat(),
    }


def _is(
    receiver: str, name: str, instance: str, status: str = "firing"
) -> Callable[[ReceivedAlert], bool]:
    def match(alert: ReceivedAlert) -> bool:
        return (alert.receiver, alert.labels.get("alertname"), alert.labels.get("instance"),
                alert.status) == (receiver, name, instance, status)

    return match


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[_Stack]:
    """A fresh alert sink on loopback, and prometheus-alertmanager routing to it with the
    generated config (timings shortened to a second); both stopped afterwards."""
    if ALERTMANAGER is None:
        pytest.skip("needs prometheus-alertmanager (Debian package prometheus-alertmanager)")
    reset_logging()
    with AlertSink(port=0) as sink:
        config = tmp_path / ALERTMANAGER_FILE
        document = alertmanager_document(sink.url, critical=FAST, warning=FAST, default=FAST)
        config.write_text(to_yaml(document))
        with alertmanager(config, tmp_path) as url:
            yield _Stack(url, sink)
    reset_logging()


@pytest.mark.slow
def test_alertmanager_delivers_by_severity_and_inhibits_a_down_target(stack: _Stack) -> None:
    """A critical alert reaches the sink on /critical and a warning on /warning (and its
    resolution follows); once a target is down, its warnings are inhibited and never delivered
    while another instance's warning is."""
    stack.post(_alert("PoolscopeMemoryLeak", "critical", "rt-a", pool="full"),
               _alert("PoolscopePoolNearFull", "warning", "rt-a", pool="swa"))
    assert stack.wait_delivered(_is("critical", "PoolscopeMemoryLeak", "rt-a"))
    assert stack.wait_delivered(_is("warning", "PoolscopePoolNearFull", "rt-a"))
    leak = next(a for a in stack.sink.received if a.labels["alertname"] == "PoolscopeMemoryLeak")
    assert leak.labels["pool"] == "full" and leak.annotations["summary"].endswith("rt-a")

    resolved = _alert("PoolscopeMemoryLeak", "critical", "rt-a", pool="full")
    resolved["endsAt"] = datetime.now(UTC).isoformat()
    stack.post(resolved)
    assert stack.wait_delivered(_is("critical", "PoolscopeMemoryLeak", "rt-a", "resolved"))

    stack.post(_alert(TARGET_DOWN_ALERT, "critical", "rt-b", job="poolscope"))
    assert stack.wait_delivered(_is("critical", TARGET_DOWN_ALERT, "rt-b"))
    stack.post(_alert("PoolscopeRetractionStorm", "warning", "rt-b"),
               _alert("PoolscopeRetractionStorm", "warning", "rt-c"))
    assert stack.wait_delivered(_is("warning", "PoolscopeRetractionStorm", "rt-c"))
    (muted,) = [
        a for a in stack.alert_states("rt-b") if a["labels"]["alertname"] != TARGET_DOWN_ALERT
    ]
    assert muted["status"]["state"] == "suppressed" and muted["status"]["inhibitedBy"]
    # rt-c's group, posted with rt-b's, has flushed: rt-b's would have arrived by now; allow
    # two more group intervals for stragglers.
    assert not stack.sink.wait_for(
        lambda got: any(map(_is("warning", "PoolscopeRetractionStorm", "rt-b"), got)),
        timeout_s=2,
    )


@pytest.mark.slow
def test_a_down_sglang_server_silences_its_other_alerts(stack: _Stack) -> None:
    """Once SGLangTargetDown fires for a server, that server's SGLang warnings are inhibited,
    while another server's are delivered."""
    stack.post(_alert(SGLANG_TARGET_DOWN_ALERT, "critical", "gpu-1:30000", job="sglang"))
    assert stack.wait_delivered(_is("critical", SGLANG_TARGET_DOWN_ALERT, "gpu-1:30000"))
    stack.post(_alert("SGLangPoolNearFull", "warning", "gpu-1:30000", pool="full"),
               _alert("SGLangPoolNearFull", "warning", "gpu-2:30000", pool="full"))
    assert stack.wait_delivered(_is("warning", "SGLangPoolNearFull", "gpu-2:30000"))
    (muted,) = [a for a in stack.alert_states("gpu-1:30000")
                if a["labels"]["alertname"] != SGLANG_TARGET_DOWN_ALERT]
    assert muted["status"]["state"] == "suppressed" and muted["status"]["inhibitedBy"]
