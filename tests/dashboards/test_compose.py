"""`compose.yaml`, `Dockerfile` and `.dockerignore`: no Docker engine runs here, so the stack is
proven by the Compose Specification's JSON schema and by checks against dashboards/stack.py, the
generated files and the CLI's own argument parser."""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from dashboards import stack
from dashboards.build import generated_files
from dashboards.prometheus_config import PROMETHEUS_FILE
from runtime.cli import build_parser
from runtime.engine_args import config_from_args as engine_config_from_args
from runtime.loadgen.args import config_from_args as loadgen_config_from_args
from tests.schemas import COMPOSE, errors

ROOT = Path(__file__).resolve().parents[2]
GENERATED_DIR = "dashboards/generated"

LISTENING = {s.name: s for s in (stack.RUNTIME, stack.RUNTIME_FAULT, stack.PROMETHEUS,
                                 stack.ALERTMANAGER, stack.ALERT_SINK, stack.GRAFANA)}  # fmt: skip
LOADGENS = {"loadgen": stack.RUNTIME, "loadgen-fault": stack.RUNTIME_FAULT}  # → their target
FAULT_PROFILE = {"runtime-fault", "loadgen-fault"}
VOLUMES = {"runtime-cache", "prometheus-data", "alertmanager-data", "grafana-data"}
# Generated file (under dashboards/generated/) → where its service reads it.
MOUNTS = {
    "prometheus": {
        PROMETHEUS_FILE: "/etc/prometheus/prometheus.yml",
        "poolscope-alerts.rules.yml": f"{stack.PROMETHEUS_RULES_DIR}/poolscope-alerts.rules.yml",
    },
    "alertmanager": {"alertmanager.yml": "/etc/alertmanager/alertmanager.yml"},
    "grafana": {
        "grafana/datasources.yml": "/etc/grafana/provisioning/datasources/poolscope.yml",
        "grafana/dashboards.yml": "/etc/grafana/provisioning/dashboards/poolscope.yml",
        stack.DASHBOARD_FILE: f"{stack.GRAFANA_DASHBOARDS_DIR}/{stack.DASHBOARD_FILE}",
    },
}
PINNED_TAG = re.compile(r"^[a-z0-9][a-z0-9./_-]*:v?\d+\.\d+\.\d+$")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _services() -> dict[str, dict]:
    return _compose()["services"]


def _mounts(service: dict, kind: str) -> list[dict]:
    """The service's long-syntax volume entries of type `kind` (bind or volume)."""
    volumes = service.get("volumes", [])
    assert all(isinstance(v, dict) for v in volumes), "use the long volume syntax"
    return [v for v in volumes if v["type"] == kind]


def _port(service: dict) -> int:
    """The one container port the service publishes ("127.0.0.1:HOST:CONTAINER")."""
    (mapping,) = service["ports"]
    return int(mapping.rsplit(":", 1)[1])


def _parse(command: list[str]) -> argparse.Namespace:
    """The command parsed by the `poolscope` CLI's own parser; a usage error fails the test."""
    try:
        return build_parser().parse_args(command)
    except SystemExit:
        pytest.fail(f"`poolscope` rejects {command}")


def _project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_compose_file_matches_the_compose_spec_schema() -> None:
    """compose.yaml, loaded as YAML, is valid under the Compose Specification's JSON schema
    (the vendored copy of ../shared/schemas, which test_schemas keeps identical)."""
    assert errors(COMPOSE, _compose()) == []


def test_services_are_the_stacks() -> None:
    """The services are exactly stack.py's listening ones plus the two load generators."""
    assert set(_services()) == set(LISTENING) | set(LOADGENS)


def test_every_image_is_pinned_and_ours_is_the_project_version() -> None:
    """Every image names an exact version (no `latest`); the project's own image is built from
    the Dockerfile and tagged with pyproject's version."""
    for name, service in _services().items():
        assert PINNED_TAG.match(service["image"]), (name, service["image"])
        if service["image"].startswith("poolscope:"):
            assert service["image"] == f"poolscope:{_project_version()}", name
            assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name


def test_listening_services_have_healthchecks_and_loopback_ports() -> None:
    """Each listening service probes its own port and publishes exactly stack.py's port on
    127.0.0.1; the load generators listen on nothing."""
    for name, service in _services().items():
        if name in LOADGENS:
            assert "ports" not in service and "healthcheck" not in service, name
            continue
        port = LISTENING[name].port
        assert service["ports"] == [f"127.0.0.1:{port}:{port}"], name
        probe = " ".join(service["healthcheck"]["test"])
        assert service["healthcheck"]["test"][0] == "CMD" and f"127.0.0.1:{port}/" in probe, name


def test_runtimes_keep_the_model_cache_in_a_named_volume() -> None:
    """Both runtimes point POOLSCOPE_CACHE_DIR at the runtime-cache volume, and allow minutes for
    the first start that builds the default model there."""
    for name in (stack.RUNTIME.name, stack.RUNTIME_FAULT.name):
        service = _services()[name]
        (cache,) = _mounts(service, "volume")
        assert cache["source"] == "runtime-cache"
        assert service["environment"]["POOLSCOPE_CACHE_DIR"] == cache["target"]
        assert service["healthcheck"]["start_period"] in ("300s", "5m")


def test_named_volumes_are_declared() -> None:
    """Every named volume a service mounts is declared at top level, and those are the four."""
    used = {m["source"] for s in _services().values() for m in _mounts(s, "volume")}
    assert used == set(_compose()["volumes"]) == VOLUMES


def test_bind_mounts_are_the_generated_files_at_their_targets() -> None:
    """Only Prometheus, Alertmanager and Grafana bind files, read-only, each a generated file at
    the path its server reads."""
    for name, service in _services().items():
        binds = _mounts(service, "bind")
        assert all(b["read_only"] is True for b in binds), name
        got = {b["source"].removeprefix(f"./{GENERATED_DIR}/"): b["target"] for b in binds}
        assert got == MOUNTS.get(name, {}), name


def test_bind_mounted_files_are_produced_by_the_generator() -> None:
    """`poolscope dashboards build` writes every file compose mounts."""
    mounted = {source for mounts in MOUNTS.values() for source in mounts}
    assert mounted - set(generated_files()) == set()


@pytest.mark.parametrize("name", ["runtime", "runtime-fault"])
def test_runtime_commands_parse_as_serve_on_their_port(name: str) -> None:
    """The runtime commands are valid `poolscope serve` lines: all interfaces, the stack port,
    the host tier on, and an EngineConfig that accepts them (fault names included)."""
    args = _parse(_services()[name]["command"])
    assert (args.verb, args.host, args.port) == ("serve", "0.0.0.0", LISTENING[name].port)
    config = engine_config_from_args(args)
    assert config.host_tier and config.model == "default"
    assert bool(config.faults) == (name == stack.RUNTIME_FAULT.name)
    assert (config.mem_check.value == "busy") == (name == stack.RUNTIME_FAULT.name)


@pytest.mark.parametrize("name", sorted(LOADGENS))
def test_loadgen_commands_send_gentle_open_loop_traffic(name: str) -> None:
    """Each loadgen command is a valid `poolscope loadgen` line aimed at its runtime: open loop
    at under one conversation a second, for hours, with shared prefixes and sessions, no report
    file and no progress bar; compose restarts it when it ends."""
    service = _services()[name]
    args = _parse(service["command"])
    config = loadgen_config_from_args(args)
    assert args.verb == "loadgen" and args.no_progress
    assert config.url == f"http://{LOADGENS[name].address}"
    assert config.request_rate is not None and config.request_rate < 1
    assert config.duration_s >= 3600 and config.json_path is None
    assert config.shared_prefix_share > 0 and config.session_share > 0
    assert service["restart"] == "unless-stopped"


def test_alert_sink_command_parses_on_its_port() -> None:
    """The alert sink runs `poolscope alert-sink` on all interfaces at the stack's port."""
    args = _parse(_services()[stack.ALERT_SINK.name]["command"])
    assert (args.verb, args.host, args.port) == ("alert-sink", "0.0.0.0", stack.ALERT_SINK.port)


def test_grafana_password_has_no_default_and_visitors_only_view() -> None:
    """Grafana's admin password must come from the environment (`:?`, no fallback), anonymous
    users are Viewers, sign-up is off, and the home dashboard is the mounted generated one."""
    env = _services()[stack.GRAFANA.name]["environment"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", env["GF_SECURITY_ADMIN_PASSWORD"])
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    home = f"{stack.GRAFANA_DASHBOARDS_DIR}/{stack.DASHBOARD_FILE}"
    assert env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == home


def test_env_example_names_every_variable() -> None:
    """Every `${VAR...}` compose.yaml interpolates has a line in .env.example."""
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (ROOT / "compose.yaml").read_text()))
    listed = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    assert used and used <= listed


def test_fault_profile_holds_exactly_the_fault_services() -> None:
    """Only runtime-fault and loadgen-fault carry a profile, and it is `fault`."""
    profiled = {n: s["profiles"] for n, s in _services().items() if "profiles" in s}
    assert profiled == {name: ["fault"] for name in FAULT_PROFILE}


def test_dependencies_wait_for_health_within_the_profile() -> None:
    """Every dependency waits for a service with a healthcheck to be healthy, the load
    generators wait for their runtime, and no default service needs a `fault` one."""
    services = _services()
    for name, service in services.items():
        for target, rule in service.get("depends_on", {}).items():
            assert rule == {"condition": "service_healthy"}, (name, target)
            assert "healthcheck" in services[target], (name, target)
            needed = services[target].get("profiles")
            assert needed is None or service.get("profiles") == needed, (name, target)
    for name, runtime in LOADGENS.items():
        assert runtime.name in services[name]["depends_on"]


def test_prometheus_config_finds_the_compose_services() -> None:
    """The mounted Prometheus config is the generated one: its DNS names and ports, Alertmanager
    target and rule files are compose services, their ports and mounted paths."""
    config = yaml.safe_load(generated_files()[PROMETHEUS_FILE])
    services = _services()
    discovered = {n: sd["port"] for job in config["scrape_configs"]
                  for sd in job["dns_sd_configs"] for n in sd["names"]}  # fmt: skip
    assert discovered == {
        n: LISTENING[n].port for n in (stack.RUNTIME.name, stack.RUNTIME_FAULT.name)
    }
    assert discovered == {name: _port(services[name]) for name in discovered}
    (alerting,) = config["alerting"]["alertmanagers"]
    targets = [t for c in alerting["static_configs"] for t in c["targets"]]
    assert targets == [f"alertmanager:{_port(services['alertmanager'])}"]
    mounted = {b["target"] for b in _mounts(services["prometheus"], "bind")}
    assert set(config["rule_files"]) <= mounted


def test_alertmanager_and_grafana_files_name_compose_services() -> None:
    """The generated Alertmanager webhooks reach the alert-sink service and Grafana's datasource
    the prometheus service, each at the port compose gives it."""
    services = _services()
    alertmanager = yaml.safe_load(generated_files()["alertmanager.yml"])
    hooks = {urlsplit(w["url"]).netloc for r in alertmanager["receivers"]
             for w in r.get("webhook_configs", [])}  # fmt: skip
    assert hooks == {f"alert-sink:{_port(services['alert-sink'])}"}
    datasources = yaml.safe_load(generated_files()["grafana/datasources.yml"])["datasources"]
    assert {urlsplit(d["url"]).netloc for d in datasources} == {
        f"prometheus:{_port(services['prometheus'])}"
    }


def test_dockerfile_builds_a_pinned_unprivileged_cpu_image() -> None:
    """The Dockerfile starts from an exact slim Python 3.11 tag, installs CPU torch 2.13.0 from
    the PyTorch CPU index before the project (without test extras), copies every package
    pyproject ships, and runs `poolscope` as a non-root user."""
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11\.\d+-slim-\w+$", text, re.M)
    assert re.search(r"^ARG TORCH_VERSION=2\.13\.0$", text, re.M)
    torch_at = text.index('pip install "torch==${TORCH_VERSION}" --index-url')
    assert "https://download.pytorch.org/whl/cpu" in text
    assert torch_at < text.index("pip install . ") and "[test]" not in text
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for pattern in packages["packages"]["find"]["include"]:
        assert f"COPY {pattern.rstrip('*')} " in text, pattern
    (user,) = re.findall(r"^USER (\S+)$", text, re.M)
    assert user.split(":")[0] not in ("root", "0")
    assert 'ENTRYPOINT ["poolscope"]' in text and re.search(r"^EXPOSE 8000$", text, re.M)


def test_dockerignore_keeps_the_build_context_small() -> None:
    """.dockerignore leaves out the venv, git, caches, benchmark results and tests, but not what
    `pip install .` reads."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert {".venv", ".git", ".pytest_cache", ".ruff_cache", "bench/results", "tests"} <= ignored
    assert not {"pyproject.toml", "README.md", "runtime", "telemetry", "dashboards"} & ignored
