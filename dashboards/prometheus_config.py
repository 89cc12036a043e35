"""The Prometheus server's configuration for the compose stack: scrape the runtimes as job
`poolscope`, load the generated rule file, send alerts to Alertmanager."""

from __future__ import annotations

from dashboards import stack
from dashboards.alerts import RULES_FILE, SCRAPE_JOB

PROMETHEUS_FILE = "prometheus.yml"
SCRAPE_INTERVAL = "5s"  # short, so a leak shows within seconds and the panels move under load
EVALUATION_INTERVAL = "5s"


def _runtime_discovery() -> list[dict[str, object]]:
    """DNS discovery, one entry per runtime service: a service that is not running (the `fault`
    profile's runtime by default) resolves to nothing and so is no target, rather than a down
    target that would fire PoolscopeTargetDown."""
    return [
        {"names": [service.name], "type": "A", "port": service.port, "refresh_interval": "10s"}
        for service in (stack.RUNTIME, stack.RUNTIME_FAULT)
    ]


def scrape_job() -> dict[str, object]:
    return {
        "job_name": SCRAPE_JOB,
        "metrics_path": "/metrics",
        "dns_sd_configs": _runtime_discovery(),
        # instance = the service name ("runtime", "runtime-fault"), not a container IP that
        # changes on every restart.
        "relabel_configs": [
            {"source_labels": ["__meta_dns_name"], "target_label": "instance"},
        ],
    }


def prometheus_document() -> dict[str, object]:
    return stack_document([f"{stack.PROMETHEUS_RULES_DIR}/{RULES_FILE}"], [scrape_job()])


def stack_document(
    rule_files: list[str], scrape_configs: list[dict[str, object]]
) -> dict[str, object]:
    """A compose stack's prometheus.yml: the stack's intervals, `rule_files` (paths inside the
    container), alerts to the stack's Alertmanager, and `scrape_configs`."""
    return {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "evaluation_interval": EVALUATION_INTERVAL,
        },
        "rule_files": rule_files,
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [stack.ALERTMANAGER.address]}]}]
        },
        "scrape_configs": scrape_configs,
    }
