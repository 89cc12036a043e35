"""The SGLang overlay's log exporter DaemonSet, run as written: its container args, with the
glob of its env re-rooted under a temporary /var/log/pods holding CRI pod logs, serve each SGLang
pod's figures under its own source and leave other pods' logs alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import yaml

from telemetry import catalog
from tests.deploy.support import DEPLOY_K8S
from tests.support import free_port, stop_process
from tests.telemetry.test_log_exporter import scrape_until, value

DAEMONSET = DEPLOY_K8S / "overlays" / "sglang" / "log-exporter-daemonset.yaml"
UID = "0f6c3d2e-5b1a-4c8e-9d7f-1a2b3c4d5e6f"
TIME = "2026-12-05T10:00:00.123456789Z"
SWA_LINE = (
    "Decode batch, #running-req: 2, #full token: 100, full token usage: 0.10, #swa token: 40, "
    "swa token usage: 0.40, cuda graph: True, gen throughput (token/s): 50.00, #queue-req: {q}"
)


def _container_command(pods_root: Path, port: int) -> list[str]:
    """The exporter container's args, its env substituted as kubelet does, re-rooted."""
    (container,) = yaml.safe_load(DAEMONSET.read_text())["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    args = []
    for arg in container["args"]:
        for name, env_value in env.items():
            arg = arg.replace(f"$({name})", env_value.replace("/var/log/pods", str(pods_root)))
        args.append(arg)
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    return args


def _pod_log(root: Path, namespace: str, pod: str, text: str) -> None:
    path = root / f"{namespace}_{pod}_{UID}" / "sglang" / "0.log"
    path.parent.mkdir(parents=True)
    path.write_text(text)


def test_daemonset_args_serve_every_sglang_pod_by_its_source(tmp_path: Path) -> None:
    """The DaemonSet's own args follow each SGLang pod's CRI log under source
    namespace/pod/container (pods started after it, read from their first line), skip other
    pods, and stop on SIGTERM."""
    root = tmp_path / "pods"
    line = SWA_LINE.format(q=3)
    partial = f"{TIME} stdout P {line[:40]}\n{TIME} stdout F {line[40:]}\n"
    root.mkdir()
    port = free_port()
    args = _container_command(root, port)
    assert "--source" not in args  # each file's source comes from its path
    code = f"from runtime.cli.main import main; raise SystemExit(main({args!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}/metrics"
    usage = catalog.POOL_USAGE
    try:
        assert proc.stdout is not None
        assert orjson.loads(proc.stdout.readline())["event"] == catalog.LOG_EXPORT_STARTED.name
        _pod_log(root, "serving", "sglang-0", partial)  # pods that start after the exporter
        _pod_log(root, "serving", "other-0", f"{TIME} stdout F {SWA_LINE.format(q=9)}\n")
        first = {"source": "serving/sglang-0/sglang", "pool": "swa"}
        scrape_until(url, lambda s: value(s, usage, **first) == 0.4, timeout_s=30)  # 2 s rescans
        _pod_log(root, "team-b", "sglang-1", f"{TIME} stdout F {SWA_LINE.format(q=5)}\n")
        second = {"source": "team-b/sglang-1/sglang"}
        queued = catalog.REQUESTS_QUEUED
        samples = scrape_until(url, lambda s: value(s, queued, **second) == 5, timeout_s=30)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        stop_process(proc)
    assert proc.returncode == 0, err
    sources = {dict(labels)["source"] for _, labels in samples}
    assert sources == {"serving/sglang-0/sglang", "team-b/sglang-1/sglang"}
