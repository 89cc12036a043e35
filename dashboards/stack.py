"""Names and ports the compose stacks' pieces use to find each other: one place, so that the
generated Prometheus, Alertmanager and Grafana files, `compose.yaml` and `compose.sglang.yaml`
agree (tests/dashboards/test_compose.py checks both compose files against these)."""

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
# compose.sglang.yaml's `poolscope logs export` of the SGLang log; its port is the command's
# default (telemetry.export.settings.DEFAULT_PORT, which a test compares).
LOG_EXPORTER = Service("log-exporter", 9466)

DATASOURCE_UID = "poolscope-prometheus"  # fixed, so provisioned dashboards find their datasource
DASHBOARD_UID = "poolscope-serving-memory"
DASHBOARD_FILE = "poolscope-serving-memory.json"
GRAFANA_FOLDER = "poolscope"

# Where compose mounts each generated file inside its container.
PROMETHEUS_RULES_DIR = "/etc/prometheus/rules"
GRAFANA_DASHBOARDS_DIR = "/etc/grafana/dashboards"

# Prometheus scrape jobs: `up{job=...}` of each drives its TargetDown alert.
POOLSCOPE_SCRAPE_JOB = "poolscope"  # poolscope runtimes (and `poolscope logs export`)
SGLANG_SCRAPE_JOB = "sglang"  # SGLang servers' own /metrics

# The dashboard over SGLang's own metrics (`dashboards build --source sglang`).
SGLANG_DASHBOARD_UID = "sglang-serving-memory"
SGLANG_DASHBOARD_FILE = "sglang/sglang-serving-memory.json"

# compose.sglang.yaml: the one-shot `sglang-target` service writes the file_sd file for
# $SGLANG_URL into a named volume that Prometheus reads (`dashboards/sglang_targets.py`).
SGLANG_TARGET_SERVICE = "sglang-target"
SGLANG_TARGETS_FILE = "sglang.json"
SGLANG_TARGETS_WRITE_DIR = "/var/lib/poolscope/targets"  # in poolscope's image (the Dockerfile)
PROMETHEUS_TARGETS_DIR = "/etc/prometheus/targets"  # the same volume in Prometheus's container
SGLANG_PROMETHEUS_FILE = "sglang/prometheus-sglang.yml"

# The fleet views (every instance at once, each row linking to the per-instance dashboard).
FLEET_DASHBOARD_UID = "poolscope-serving-memory-fleet"
FLEET_DASHBOARD_FILE = "poolscope-serving-memory-fleet.json"
SGLANG_FLEET_DASHBOARD_UID = "sglang-serving-memory-fleet"
SGLANG_FLEET_DASHBOARD_FILE = "sglang/sglang-serving-memory-fleet.json"
