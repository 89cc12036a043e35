"""`compose.yaml`, `compose.sglang.yaml`, `Dockerfile` and `.dockerignore`: no Docker engine runs
here, so the stacks are proven by the Compose Specification's JSON schema and by checks against
dashboards/stack.py, the generated files and the CLI's own argument parser. Checks that apply to
both compose files run on both; compose.sglang.yaml's own are in test_compose_sglang.py."""

from __future__ import annotations

import re
import tomllib
from urllib.parse import urlsplit

import pytest
import yaml

from dashboards import stack
from dashboards.alertmanager_config import ALERTMANAGER_FILE
from dashboards.build import generated_files
from dashboards.grafana_provisioning import DATASOURCES_FILE
from runtime.engine.args import config_from_args as engine_config_from_args
from runtime.loadgen.args import config_from_args as loadgen_config_from_args
from tests.dashboards.compose_files import (
    DEMO,
    GENERATED_DIR,
    ROOT,
    STACKS,
    ComposeStack,
    load,
    mounts,
    parse,
    port,
    variables,
)
from tests.schemas import COMPOSE, errors

LOADGENS = {"loadgen": stack.RUNTIME, "loadgen-fault": stack.RUNTIME_FAULT}  # → their target
FAULT_PROFILE = {"runtime-fault", "loadgen-fault"}
PINNED_TAG = re.compile(r"^[a-z0-9][a-z0-9./_-]*:v?\d+\.\d+\.\d+$")

each_stack = pytest.mark.parametrize("compose", STACKS, ids=lambda s: s.file)


def _project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _is_generated(bind: dict) -> bool:
    return bind["source"].startswith(f"./{GENERATED_DIR}/")


@each_stack
def test_compose_file_matches_the_compose_spec_schema(compose: ComposeStack) -> None:
    """The compose file, loaded as YAML, is valid under the Compose Specification's JSON schema
    (the vendored copy of ../shared/schemas, which test_schemas keeps identical)."""
    assert errors(COMPOSE, load(compose.file)) == []


@each_stack
def test_services_are_the_stacks(compose: ComposeStack) -> None:
    """The services are exactly stack.py's listening ones plus those that listen on nothing
    (compose.yaml's load generators, compose.sglang.yaml's sglang-target)."""
    assert set(compose.services()) == set(compose.listening) | compose.quiet


@each_stack
def test_every_image_is_pinned_and_ours_is_the_project_version(compose: ComposeStack) -> None:
    """Every image names an exact version (no `latest`); the project's own image is built from
    the Dockerfile and tagged with pyproject's version."""
    for name, service in compose.services().items():
        assert PINNED_TAG.match(service["image"]), (name, service["image"])
        if service["image"].startswith("poolscope:"):
            assert service["image"] == f"poolscope:{_project_version()}", name
            assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name


@each_stack
def test_listening_services_have_healthchecks_and_loopback_ports(compose: ComposeStack) -> None:
    """Each listening service probes its own port and publishes exactly stack.py's port on
    127.0.0.1; the others publish nothing and have no healthcheck."""
    for name, service in compose.services().items():
        if name in compose.quiet:
            assert "ports" not in service and "healthcheck" not in service, name
            continue
        listen = compose.listening[name].port
        assert service["ports"] == [f"127.0.0.1:{listen}:{listen}"], name
        probe = " ".join(service["healthcheck"]["test"])
        assert service["healthcheck"]["test"][0] == "CMD" and f"127.0.0.1:{listen}/" in probe, name


@each_stack
def test_every_poolscope_command_parses(compose: ComposeStack) -> None:
    """Every service on the project's image runs a command line the `poolscope` CLI's own
    parser accepts, once compose has filled in the variables."""
    ours = {n: s for n, s in compose.services().items() if s["image"].startswith("poolscope:")}
    assert ours
    for service in ours.values():
        assert parse(service["command"], compose.env).verb


def test_runtimes_keep_the_model_cache_in_a_named_volume() -> None:
    """Both runtimes point POOLSCOPE_CACHE_DIR at the runtime-cache volume, and allow minutes for
    the first start that builds the default model there."""
    for name in (stack.RUNTIME.name, stack.RUNTIME_FAULT.name):
        service = DEMO.services()[name]
        (cache,) = mounts(service, "volume")
        assert cache["source"] == "runtime-cache"
        assert service["environment"]["POOLSCOPE_CACHE_DIR"] == cache["target"]
        assert service["healthcheck"]["start_period"] in ("300s", "5m")


@each_stack
def test_named_volumes_are_declared(compose: ComposeStack) -> None:
    """Every named volume a service mounts is declared at top level, and those are the stack's."""
    used = {m["source"] for s in compose.services().values() for m in mounts(s, "volume")}
    assert used == set(load(compose.file)["volumes"]) == compose.volumes


@each_stack
def test_bind_mounts_are_the_generated_files_at_their_targets(compose: ComposeStack) -> None:
    """Only Prometheus, Alertmanager and Grafana bind generated files, read-only, each at the
    path its server reads; the only other bind is compose.sglang.yaml's log folder."""
    for name, service in compose.services().items():
        binds = mounts(service, "bind")
        assert all(b["read_only"] is True for b in binds), name
        generated = [b for b in binds if _is_generated(b)]
        got = {b["source"].removeprefix(f"./{GENERATED_DIR}/"): b["target"] for b in generated}
        assert got == compose.generated_mounts.get(name, {}), name
        others = [b for b in binds if not _is_generated(b)]
        assert len(others) == (name == stack.LOG_EXPORTER.name), name  # test_compose_sglang.py


@each_stack
def test_bind_mounted_files_are_produced_by_the_generator(compose: ComposeStack) -> None:
    """`poolscope dashboards build` writes every file the compose file mounts."""
    mounted = {source for files in compose.generated_mounts.values() for source in files}
    assert mounted - set(generated_files()) == set()


@pytest.mark.parametrize("name", ["runtime", "runtime-fault"])
def test_runtime_commands_parse_as_serve_on_their_port(name: str) -> None:
    """The runtime commands are valid `poolscope serve` lines: all interfaces, the stack port,
    the host tier on, and an EngineConfig that accepts them (fault names included)."""
    args = parse(DEMO.services()[name]["command"])
    assert (args.verb, args.host, args.port) == ("serve", "0.0.0.0", DEMO.listening[name].port)
    config = engine_config_from_args(args)
    assert config.host_tier and config.model == "default"
    assert bool(config.faults) == (name == stack.RUNTIME_FAULT.name)
    assert (config.mem_check.value == "busy") == (name == stack.RUNTIME_FAULT.name)


@pytest.mark.parametrize("name", sorted(LOADGENS))
def test_loadgen_commands_send_gentle_open_loop_traffic(name: str) -> None:
    """Each loadgen command is a valid `poolscope loadgen` line aimed at its runtime: open loop
    at under one conversation a second, for hours, with shared prefixes and sessions, no report
    file and no progress bar; compose restarts it when it ends."""
    service = DEMO.services()[name]
    args = parse(service["command"])
    config = loadgen_config_from_args(args)
    assert args.verb == "loadgen" and args.no_progress
    assert config.url == f"http://{LOADGENS[name].address}"
    assert config.request_rate is not None and config.request_rate < 1
    assert config.duration_s >= 3600 and config.json_path is None
    assert config.shared_prefix_share > 0 and config.session_share > 0
    assert service["restart"] == "unless-stopped"


@each_stack
def test_alert_sink_command_parses_on_its_port(compose: ComposeStack) -> None:
    """The alert sink runs `poolscope alert-sink` on all interfaces at the stack's port."""
    args = parse(compose.services()[stack.ALERT_SINK.name]["command"])
    assert (args.verb, args.host, args.port) == ("alert-sink", "0.0.0.0", stack.ALERT_SINK.port)


@each_stack
def test_grafana_password_has_no_default_and_visitors_only_view(compose: ComposeStack) -> None:
    """Grafana's admin password must come from the environment (`:?`, no fallback), anonymous
    users are Viewers, sign-up is off, and the home dashboard is the stack's mounted one."""
    service = compose.services()[stack.GRAFANA.name]
    env = service["environment"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", env["GF_SECURITY_ADMIN_PASSWORD"])
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    home = compose.generated_mounts["grafana"][compose.home_dashboard]
    assert env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == home


@each_stack
def test_env_example_names_every_variable(compose: ComposeStack) -> None:
    """Every `${VAR...}` the compose file interpolates has a line in .env.example."""
    listed = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    assert variables(compose.file) and variables(compose.file) <= listed


def test_fault_profile_holds_exactly_the_fault_services() -> None:
    """In compose.yaml only runtime-fault and loadgen-fault carry a profile, and it is `fault`;
    compose.sglang.yaml has no profile (see test_compose_sglang.py)."""
    profiled = {n: s["profiles"] for n, s in DEMO.services().items() if "profiles" in s}
    assert profiled == {name: ["fault"] for name in FAULT_PROFILE}


@each_stack
def test_dependencies_wait_for_health_within_the_profile(compose: ComposeStack) -> None:
    """Every dependency waits for a service with a healthcheck to be healthy, or for a one-shot
    service (restart "no") to finish successfully; no default service needs a profiled one, and
    compose.yaml's load generators wait for their runtime."""
    services = compose.services()
    for name, service in services.items():
        for target, rule in service.get("depends_on", {}).items():
            if services[target].get("restart") == "no":
                assert rule == {"condition": "service_completed_successfully"}, (name, target)
            else:
                assert rule == {"condition": "service_healthy"}, (name, target)
                assert "healthcheck" in services[target], (name, target)
            needed = services[target].get("profiles")
            assert needed is None or service.get("profiles") == needed, (name, target)
    if compose is DEMO:
        for name, runtime in LOADGENS.items():
            assert runtime.name in services[name]["depends_on"]


def test_prometheus_config_finds_the_compose_services() -> None:
    """compose.yaml's Prometheus config is the generated one: its DNS names and ports,
    Alertmanager target and rule files are compose services, their ports and mounted paths."""
    config = yaml.safe_load(generated_files()[DEMO.prometheus_file])
    services = DEMO.services()
    discovered = {n: sd["port"] for job in config["scrape_configs"]
                  for sd in job["dns_sd_configs"] for n in sd["names"]}
    assert discovered == {
        n: DEMO.listening[n].port for n in (stack.RUNTIME.name, stack.RUNTIME_FAULT.name)
    }
    assert discovered == {name: port(services[name]) for name in discovered}


@each_stack
def test_prometheus_alerts_the_stacks_alertmanager_and_reads_mounted_rules(
    compose: ComposeStack,
) -> None:
    """The mounted Prometheus config sends alerts to the alertmanager service at its port, and
    every rule file it loads is one the compose file mounts there."""
    config = yaml.safe_load(generated_files()[compose.prometheus_file])
    services = compose.services()
    (alerting,) = config["alerting"]["alertmanagers"]
    targets = [t for c in alerting["static_configs"] for t in c["targets"]]
    assert targets == [f"alertmanager:{port(services['alertmanager'])}"]
    mounted = {b["target"] for b in mounts(services["prometheus"], "bind")}
    assert config["rule_files"] and set(config["rule_files"]) <= mounted


@each_stack
def test_alertmanager_and_grafana_files_name_compose_services(compose: ComposeStack) -> None:
    """The generated Alertmanager webhooks reach the alert-sink service and Grafana's datasource
    the prometheus service, each at the port compose gives it."""
    services = compose.services()
    alertmanager = yaml.safe_load(generated_files()[ALERTMANAGER_FILE])
    hooks = {urlsplit(w["url"]).netloc for r in alertmanager["receivers"]
             for w in r.get("webhook_configs", [])}
    assert hooks == {f"alert-sink:{port(services['alert-sink'])}"}
    datasources = yaml.safe_load(generated_files()[DATASOURCES_FILE])["datasources"]
    assert {urlsplit(d["url"]).netloc for d in datasources} == {
        f"prometheus:{port(services['prometheus'])}"
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


def test_dockerfile_gives_the_volume_folders_to_the_runtime_user() -> None:
    """The folders compose mounts named volumes over in the project's image (the model cache,
    compose.sglang.yaml's targets folder) exist there, owned by the runtime user, so an empty
    volume starts writable by it."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    (mkdir,) = re.findall(r"mkdir -p ([^&\n]+)", text)
    (chown,) = re.findall(r"chown poolscope:poolscope ([^&\n]+)", text)
    folders = {stack.SGLANG_TARGETS_WRITE_DIR, "${POOLSCOPE_CACHE_DIR}"}
    assert folders <= {w.strip('"') for w in mkdir.split()}
    assert folders <= {w.strip('"') for w in chown.split()}


def test_dockerignore_keeps_the_build_context_small() -> None:
    """.dockerignore leaves out the venv, git, caches, benchmark results and tests, but not what
    `pip install .` reads."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert {".venv", ".git", ".pytest_cache", ".ruff_cache", "bench/results", "tests"} <= ignored
    assert not {"pyproject.toml", "README.md", "runtime", "telemetry", "dashboards"} & ignored
