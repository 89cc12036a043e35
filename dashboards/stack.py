"""Names and ports the compose stack's pieces use to find each other: one place, so that the
generated Prometheus, Alertmanager and Grafana files and `compose.yaml` agree (a test checks the
compose file against these)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str  # the compose service name, also its host name on the compose network
    port: int  # the port it listens on inside the network and publishes on 127.0.0.1

    @property
    def address(self) -> str:
        return f"{self.name}:{self.port}"


RUNTIME = Service("runtime", 8000)
RUNTIME_FAULT = Service("runtime-fault", 8001)  # the `fault` profile's runtime
PROMETHEUS = Service("prometheus", 9090)
ALERTMANAGER = Service("alertmanager", 9093)
ALERT_SINK = Service("alert-sink", 9095)  # the webhook receiver Alertmanager routes to
GRAFANA = Service("grafana", 3000)

DATASOURCE_UID = "poolscope-prometheus"  # fixed, so provisioned dashboards find their datasource
DASHBOARD_UID = "poolscope-serving-memory"
DASHBOARD_FILE = "poolscope-serving-memory.json"
GRAFANA_FOLDER = "poolscope"

# Where compose mounts each generated file inside its container.
PROMETHEUS_RULES_DIR = "/etc/prometheus/rules"
GRAFANA_DASHBOARDS_DIR = "/etc/grafana/dashboards"
