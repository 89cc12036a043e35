"""compose.sglang.yaml's own pieces: the variables it requires, the one-shot `sglang-target`
service writing the file_sd file Prometheus reads through a shared volume, and the log exporter
following the SGLang log in a mounted folder. test_compose.py checks what both compose files
share (schema, names and ports, images, healthchecks, mounts, commands)."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest
import yaml

from dashboards import stack
from dashboards.build import generated_files
from dashboards.prometheus_sglang_config import targets_file
from runtime.cli.main import main
from telemetry.export.settings import DEFAULT_PORT
from tests.dashboards.compose_files import (
    ROOT,
    SGLANG,
    MissingVariable,
    interpolate,
    mounts,
    parse,
    port,
)
from tests.schemas import COMPOSE, errors

REQUIRED = ("GRAFANA_ADMIN_PASSWORD", "SGLANG_URL", "SGLANG_LOG_DIR")
LOG_FOLDER = "/logs"


def _text() -> str:
    return (ROOT / SGLANG.file).read_text()


def _service(name: str) -> dict:
    return SGLANG.services()[name]


def _volume(service: dict, source: str) -> dict:
    (volume,) = [v for v in mounts(service, "volume") if v["source"] == source]
    return volume


def test_required_variables_have_no_default() -> None:
    """SGLANG_URL, SGLANG_LOG_DIR and GRAFANA_ADMIN_PASSWORD are only ever used as `${VAR:?...}`,
    so compose refuses to start while one is unset or empty; with all three set the file
    interpolates to a valid compose file."""
    text = _text()
    for var in REQUIRED:
        assert text.count(f"${{{var}:?") == text.count(f"${{{var}") >= 1, var
        for unset in ({k: v for k, v in SGLANG.env.items() if k != var}, {**SGLANG.env, var: ""}):
            with pytest.raises(MissingVariable, match=var):
                interpolate(text, unset)
    assert errors(COMPOSE, yaml.safe_load(interpolate(text, SGLANG.env))) == []


def test_nothing_is_profiled() -> None:
    """Every service of the SGLang stack starts with a plain `up`: none carries a profile."""
    assert all("profiles" not in service for service in SGLANG.services().values())


def test_sglang_target_writes_the_file_prometheus_reads() -> None:
    """sglang-target runs once (`restart: "no"`) `poolscope dashboards sglang-target $SGLANG_URL
    --out FILE` into the sglang-targets volume; Prometheus mounts that volume read-only where
    the generated config's file_sd entry looks, and starts only after the writer succeeded."""
    writer = _service(stack.SGLANG_TARGET_SERVICE)
    args = parse(writer["command"], SGLANG.env)
    assert (args.verb, args.dashboards_verb) == ("dashboards", "sglang-target")
    assert args.urls == [SGLANG.env["SGLANG_URL"]]
    assert writer["restart"] == "no"
    written = _volume(writer, "sglang-targets")
    assert not written.get("read_only", False)
    assert str(args.out) == f"{written['target']}/{stack.SGLANG_TARGETS_FILE}"
    assert written["target"] == stack.SGLANG_TARGETS_WRITE_DIR
    prometheus = _service(stack.PROMETHEUS.name)
    read = _volume(prometheus, "sglang-targets")
    assert read["read_only"] is True
    assert targets_file() == f"{read['target']}/{stack.SGLANG_TARGETS_FILE}"
    config = yaml.safe_load(generated_files()[SGLANG.prometheus_file])
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == stack.SGLANG_SCRAPE_JOB]
    assert job["file_sd_configs"][0]["files"] == [targets_file()]
    condition = prometheus["depends_on"][stack.SGLANG_TARGET_SERVICE]["condition"]
    assert condition == "service_completed_successfully"


def test_sglang_target_command_writes_a_target_for_the_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The service's command line, run in process with its output redirected, writes one
    target group for $SGLANG_URL; a bad $SGLANG_URL makes it exit 2 before writing."""
    out = tmp_path / stack.SGLANG_TARGETS_FILE

    def run(env: dict[str, str]) -> int:
        command = [interpolate(arg, env) for arg in _service("sglang-target")["command"]]
        return main([*command[: command.index("--out")], "--out", str(out)])

    assert run(SGLANG.env) == 0
    (group,) = json.loads(out.read_text())
    assert group["targets"] == ["host.docker.internal:30000"]
    assert group["labels"]["__metrics_path__"] == "/metrics"
    out.unlink()
    assert run({**SGLANG.env, "SGLANG_URL": "host.docker.internal:30000"}) == 2
    assert "bad SGLang URL" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("log_name", [None, "server.log"])
def test_log_exporter_follows_the_log_in_the_mounted_folder(log_name: str | None) -> None:
    """log-exporter runs `poolscope logs export /logs/<SGLANG_LOG_NAME, default sglang.log>
    --follow` on all interfaces at stack.py's port with source "sglang", and $SGLANG_LOG_DIR is
    bound read-only as the folder holding that file (a folder, so rotation is seen)."""
    env = SGLANG.env | ({"SGLANG_LOG_NAME": log_name} if log_name else {})
    service = _service(stack.LOG_EXPORTER.name)
    args = parse(service["command"], env)
    assert (args.verb, args.logs_command) == ("logs", "export")
    assert PurePosixPath(args.file) == PurePosixPath(LOG_FOLDER, log_name or "sglang.log")
    assert args.follow and not args.from_start and args.source == "sglang"
    assert (args.host, args.port) == ("0.0.0.0", stack.LOG_EXPORTER.port)
    assert port(service) == stack.LOG_EXPORTER.port
    (logs,) = mounts(service, "bind")
    assert logs["source"].startswith("${SGLANG_LOG_DIR:?")
    assert (logs["target"], logs["read_only"]) == (LOG_FOLDER, True)


def test_log_exporter_port_is_the_commands_default() -> None:
    """stack.py's log-exporter port is `poolscope logs export`'s default port (dashboards may
    not import the CLI's settings, so this test ties the two)."""
    assert stack.LOG_EXPORTER.port == DEFAULT_PORT


def test_prometheus_scrapes_the_log_exporter_as_poolscope() -> None:
    """The generated config scrapes the log-exporter service at its compose port as job
    `poolscope` (so poolscope's rules apply to it) with instance = the service name."""
    config = yaml.safe_load(generated_files()[SGLANG.prometheus_file])
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == stack.POOLSCOPE_SCRAPE_JOB]
    (static,) = job["static_configs"]
    exporter = _service(stack.LOG_EXPORTER.name)
    assert static["targets"] == [f"{stack.LOG_EXPORTER.name}:{port(exporter)}"]
    assert static["labels"] == {"instance": stack.LOG_EXPORTER.name}


def test_prometheus_reaches_a_server_on_the_docker_host() -> None:
    """Prometheus resolves host.docker.internal to the Docker host (Linux too), for an SGLang
    server running there."""
    hosts = _service(stack.PROMETHEUS.name)["extra_hosts"]
    assert "host.docker.internal:host-gateway" in hosts
