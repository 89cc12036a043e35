"""Alertmanager's configuration for the compose stack: route each poolscope alert by its
`severity` label to a webhook receiver of the same name on the alert sink
(`poolscope alert-sink`), and let a down target (a poolscope runtime or log exporter, or an
SGLang server) silence that target's other alerts. Both compose stacks use it.

    alertmanager_document()                               # what `dashboards build` writes
    alertmanager_document(sink_url="http://127.0.0.1:9095",
                          critical=RouteTimings("1s", "1s", "1h"))  # a test's faster variant
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboards import stack

ALERTMANAGER_FILE = "alertmanager.yml"
GROUP_BY = ("alertname", "instance", "pool")
DEFAULT_RECEIVER = "default"  # anything without a known severity
TARGET_DOWN_ALERT = "PoolscopeTargetDown"  # a rule of dashboards.alerts; a test checks it exists
SGLANG_TARGET_DOWN_ALERT = "SGLangTargetDown"  # a rule of dashboards.sglang_alerts, likewise
TARGET_DOWN_ALERTS = (TARGET_DOWN_ALERT, SGLANG_TARGET_DOWN_ALERT)


@dataclass(frozen=True)
class RouteTimings:
    """Alertmanager durations ("10s", "4h"): wait before a new group's first notification,
    between notifications of a changed group, and before repeating an unchanged one."""

    group_wait: str
    group_interval: str
    repeat_interval: str

    def to_dict(self) -> dict[str, str]:
        return {
            "group_wait": self.group_wait,
            "group_interval": self.group_interval,
            "repeat_interval": self.repeat_interval,
        }


# critical: page quickly and remind hourly; warning: batch changes, remind twice a working day.
CRITICAL_TIMINGS = RouteTimings(group_wait="10s", group_interval="1m", repeat_interval="1h")
WARNING_TIMINGS = RouteTimings(group_wait="1m", group_interval="5m", repeat_interval="4h")
DEFAULT_TIMINGS = RouteTimings(group_wait="30s", group_interval="5m", repeat_interval="4h")


def _receiver(name: str, sink_url: str) -> dict[str, object]:
    webhook = {"url": f"{sink_url.rstrip('/')}/{name}", "send_resolved": True}
    return {"name": name, "webhook_configs": [webhook]}


def _severity_route(severity: str, timings: RouteTimings) -> dict[str, object]:
    return {"receiver": severity, "matchers": [f'severity="{severity}"'], **timings.to_dict()}


def _target_down_inhibition(alert: str) -> dict[str, object]:
    """While a target is down every other alert about it is noise (its metrics are gone or
    stale), so its TargetDown alert (`alert`) mutes the rest for the same instance."""
    return {
        "source_matchers": [f'alertname="{alert}"'],
        "target_matchers": [f'alertname!="{alert}"'],
        "equal": ["instance"],
    }


def alertmanager_document(
    sink_url: str = f"http://{stack.ALERT_SINK.address}",
    critical: RouteTimings = CRITICAL_TIMINGS,
    warning: RouteTimings = WARNING_TIMINGS,
    default: RouteTimings = DEFAULT_TIMINGS,
) -> dict[str, object]:
    """The whole alertmanager.yml: one webhook receiver per severity plus a default one, all
    posting to `sink_url/<receiver>` (resolved notifications too)."""
    return {
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": list(GROUP_BY),
            **default.to_dict(),
            "routes": [
                _severity_route("critical", critical),
                _severity_route("warning", warning),
            ],
        },
        "receivers": [
            _receiver(name, sink_url) for name in ("critical", "warning", DEFAULT_RECEIVER)
        ],
        "inhibit_rules": [_target_down_inhibition(alert) for alert in TARGET_DOWN_ALERTS],
    }
