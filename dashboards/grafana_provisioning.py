"""Grafana provisioning for the compose stack: the Prometheus datasource under a fixed uid (the
dashboards' default), and a file provider that loads the generated dashboards into a folder."""

from __future__ import annotations

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
    }  # fmt: skip


def dashboards_document() -> dict[str, object]:
    return {
        "apiVersion": 1,
        "providers": [{
            "name": "poolscope", "orgId": 1, "folder": stack.GRAFANA_FOLDER, "type": "file",
            "disableDeletion": True, "allowUiUpdates": False, "updateIntervalSeconds": 30,
            "options": {"path": stack.GRAFANA_DASHBOARDS_DIR, "foldersFromFilesStructure": False},
        }],
    }  # fmt: skip
