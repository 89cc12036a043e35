"""The SGLang overlay's own objects: a PodMonitor for SGLang pods found by label (their /metrics
as job `sglang`), and the log exporter, a DaemonSet running `poolscope logs export` over the
node's pod log files, with the PodMonitor that scrapes it as job `poolscope`.

Why a DaemonSet, not a sidecar: the SGLang pods are someone else's (a chart, an operator); a
sidecar would mean editing their pod spec and making SGLang write its log to a shared file (it
logs to stdout). The kubelet already writes every container's stdout under /var/log/pods on the
node, so one exporter per node reads them read-only, whatever the number of SGLang replicas.
The cost: a hostPath volume and root (the files are root's, mode 0640), so the overlay's
namespace has Pod Security level `privileged`; the container still drops every capability and
has a read-only root filesystem.
"""

from __future__ import annotations

from dashboards.alerts import SCRAPE_JOB
from dashboards.stack import SGLANG_SCRAPE_JOB
from deployment.k8s_names import (
    IMAGE,
    LOG_EXPORTER,
    POD_LOG_DIR,
    SGLANG_POD_LABEL,
    SGLANG_PORT,
    metadata,
)
from deployment.k8s_pod import (
    PORT_NAME,
    container_port,
    container_security,
    http_probe,
    pod_monitor,
    pod_security,
)

LOG_GLOB_ENV = "SGLANG_LOG_GLOB"
# /var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log: every container log of every
# pod whose name starts with "sglang".
LOG_GLOB = f"{POD_LOG_DIR}/*_sglang*_*/*/*.log"
EXPORT_NOTE = (
    "`poolscope logs export` follows every file that SGLANG_LOG_GLOB matches (files that appear "
    "later too, from their start; rotated copies such as 0.log.20261205-100000 are never read "
    "twice), takes the CRI wrapping off each line (`<time> <stream> <F|P> <line>`, P = partial, "
    "joined), and labels each file's series with source=<namespace>/<pod>/<container> from its "
    "path. A log file missing for a minute (its pod deleted) is let go with its series."
)


def sglang_podmonitor() -> dict[str, object]:
    """SGLang pods in any namespace with the label; SGLang serves /metrics on its API port
    (`--enable-metrics`)."""
    key, value = SGLANG_POD_LABEL
    return pod_monitor("sglang", {key: value}, SGLANG_SCRAPE_JOB, {"portNumber": SGLANG_PORT},
                       namespace_selector={"any": True})


def log_exporter_podmonitor() -> dict[str, object]:
    endpoint = {"port": PORT_NAME}
    return pod_monitor(LOG_EXPORTER.name, LOG_EXPORTER.selector, SCRAPE_JOB, endpoint)


def _exporter_container() -> dict[str, object]:
    # no --source: each file's comes from its path (namespace/pod/container)
    args = ["logs", "export", f"$({LOG_GLOB_ENV})", "--follow",
            "--host", "0.0.0.0", "--port", str(LOG_EXPORTER.port)]
    return {
        "name": "log-exporter", "image": IMAGE, "args": args,
        "env": [{"name": LOG_GLOB_ENV, "value": LOG_GLOB}, {"name": "HOME", "value": "/tmp"}],
        "ports": container_port(LOG_EXPORTER),
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"},
                      "limits": {"memory": "512Mi"}},
        "readinessProbe": http_probe("/metrics", 10, 3),
        "livenessProbe": http_probe("/metrics", 20, 3),
        "securityContext": container_security(),
        "volumeMounts": [{"name": "pod-logs", "mountPath": POD_LOG_DIR, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }


def log_exporter_daemonset() -> dict[str, object]:
    host_logs = {"path": POD_LOG_DIR, "type": "Directory"}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": metadata(LOG_EXPORTER.name, LOG_EXPORTER.labels,
                             annotations={"poolscope.dev/note": EXPORT_NOTE}),
        "spec": {
            "selector": {"matchLabels": LOG_EXPORTER.selector},
            "template": {
                "metadata": {"labels": LOG_EXPORTER.labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(uid=0),
                    # GPU nodes are usually tainted; the exporter must run where SGLang runs.
                    "tolerations": [{"operator": "Exists"}],
                    "terminationGracePeriodSeconds": 10,
                    "containers": [_exporter_container()],
                    "volumes": [{"name": "pod-logs", "hostPath": host_logs},
                                {"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }
