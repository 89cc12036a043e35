"""The Prometheus server's configuration for `compose.sglang.yaml`: scrape the SGLang server at
$SGLANG_URL as job `sglang` (found through the file_sd file the `sglang-target` service writes,
see `dashboards/sglang_targets.py`) and `poolscope logs export` of its log as job `poolscope`;
load the SGLang rules and poolscope's (so PoolscopeMemoryLeak fires on the leak messages the
exporter counts), and send alerts to the stack's Alertmanager."""

from __future__ import annotations

from pathlib import PurePosixPath

from dashboards import alerts, sglang_alerts, stack
from dashboards.prometheus_config import stack_document

TARGETS_REFRESH = "30s"  # Prometheus also watches the file; this is the fallback re-read


def rule_mounts() -> dict[str, str]:
    """Generated rule file (relative to dashboards/generated/) → its path in the Prometheus
    container: poolscope's and SGLang's, side by side in the rules folder."""
    files = [alerts.RULES_FILE, sglang_alerts.RULES_FILE]
    return {f: f"{stack.PROMETHEUS_RULES_DIR}/{PurePosixPath(f).name}" for f in files}


def targets_file() -> str:
    """Where Prometheus reads the file_sd file of the SGLang servers."""
    return f"{stack.PROMETHEUS_TARGETS_DIR}/{stack.SGLANG_TARGETS_FILE}"


def sglang_job() -> dict[str, object]:
    """The SGLang server(s): address, scheme, metrics path and `instance` come from the file_sd
    target group (`host:port`, plus the proxy path when there is one)."""
    return {
        "job_name": stack.SGLANG_SCRAPE_JOB,
        "file_sd_configs": [{"files": [targets_file()], "refresh_interval": TARGETS_REFRESH}],
    }


def log_exporter_job() -> dict[str, object]:
    """`poolscope logs export` of the SGLang log, as job `poolscope` like a poolscope runtime,
    so poolscope's rules (leaks, its TargetDown) apply; instance = the service name."""
    labels = {"instance": stack.LOG_EXPORTER.name}
    return {
        "job_name": stack.POOLSCOPE_SCRAPE_JOB,
        "metrics_path": "/metrics",
        "static_configs": [{"targets": [stack.LOG_EXPORTER.address], "labels": labels}],
    }


def prometheus_sglang_document() -> dict[str, object]:
    return stack_document(list(rule_mounts().values()), [sglang_job(), log_exporter_job()])
