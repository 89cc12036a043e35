"""Grafana provisioning for the compose stack: the Prometheus datasource under a fixed uid (the
dashboards' default), and a file provider that loads the generated dashboards into a folder.

The provider loads every dashboard JSON file under `stack.GRAFANA_DASHBOARDS_DIR`, so a stack
provisions the SGLang dashboards by also binding their generated files there:
`dashboard_mounts(include_sglang=True)` says which file goes where. Every dashboard (per instance
and fleet, of each source) defaults to the provisioned datasource and has its own uid, so one
Grafana shows them all and the fleet views' links find the per-instance ones.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from dashboards import stack
from dashboards.prometheus_config import SCRAPE_INTERVAL

DATASOURCES_FILE = "grafana/datasources.yml"
DASHBOARDS_FILE = "grafana/dashboards.yml"
DATASOURCE_NAME = "Prometheus"


def datasources_document() -> dict[str, object]:
    return {
        "apiVersion": 1,
        "datasources": [{
            "name": DATASOURCE_NAME, "type": "prometheus", "uid": stack.DATASOURCE_UID,
            "access": "proxy", "url": f"http://{stack.PROMETHEUS.address}", "isDefault": True,
            "editable": False,
            # Matches the scrape interval, so $__rate_interval spans at least four scrapes.
            "jsonData": {"timeInterval": SCRAPE_INTERVAL, "httpMethod": "POST"},
        }],
    }


def dashboards_document() -> dict[str, object]:
    return {
        "apiVersion": 1,
        "providers": [{
            "name": "poolscope", "orgId": 1, "folder": stack.GRAFANA_FOLDER, "type": "file",
            "disableDeletion": True, "allowUiUpdates": False, "updateIntervalSeconds": 30,
            "options": {"path": stack.GRAFANA_DASHBOARDS_DIR, "foldersFromFilesStructure": False},
        }],
    }


def dashboard_mounts(include_sglang: bool = False) -> dict[str, str]:
    """Generated dashboard file (relative to dashboards/generated/) → its path in the Grafana
    container, where the file provider above finds it."""
    files = [stack.DASHBOARD_FILE, stack.FLEET_DASHBOARD_FILE]
    if include_sglang:
        files += [stack.SGLANG_DASHBOARD_FILE, stack.SGLANG_FLEET_DASHBOARD_FILE]
    return {f: f"{stack.GRAFANA_DASHBOARDS_DIR}/{PurePosixPath(f).name}" for f in files}
