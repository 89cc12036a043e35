"""Reading the compose files as the tests need them (loaded as YAML, services, long-syntax mounts,
published ports, `${VAR...}` interpolation like Compose's, `poolscope` command lines parsed by the
CLI's own parser), and what each of the two stacks must hold (`DEMO`: compose.yaml, `SGLANG`:
compose.sglang.yaml)."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from dashboards import stack
from dashboards.alertmanager_config import ALERTMANAGER_FILE
from dashboards.alerts import RULES_FILE
from dashboards.grafana_provisioning import DASHBOARDS_FILE, DATASOURCES_FILE, dashboard_mounts
from dashboards.prometheus_config import PROMETHEUS_FILE
from dashboards.prometheus_sglang_config import rule_mounts
from runtime.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
GENERATED_DIR = "dashboards/generated"
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}
VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:?)([-?])([^}]*))?\}")


class MissingVariable(ValueError):
    """A `${VAR:?message}` whose variable is unset or empty: Compose refuses to start."""


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def services(name: str) -> dict[str, dict]:
    return load(name)["services"]


def mounts(service: dict, kind: str) -> list[dict]:
    """The service's long-syntax volume entries of type `kind` (bind or volume)."""
    volumes = service.get("volumes", [])
    assert all(isinstance(v, dict) for v in volumes), "use the long volume syntax"
    return [v for v in volumes if v["type"] == kind]


def port(service: dict) -> int:
    """The one container port the service publishes ("127.0.0.1:HOST:CONTAINER")."""
    (mapping,) = service["ports"]
    return int(mapping.rsplit(":", 1)[1])


def variables(name: str) -> set[str]:
    """Every variable the compose file interpolates."""
    return {m.group(1) for m in VARIABLE.finditer((ROOT / name).read_text())}


def interpolate(text: str, env: dict[str, str]) -> str:
    """`text` with its `${...}` replaced as Compose does; raises MissingVariable for a required
    one (`?`) that is unset (or, with `:`, empty)."""

    def value(match: re.Match[str]) -> str:
        var, colon, op, arg = match.groups()
        got = env.get(var)
        missing = got is None or (colon == ":" and got == "")
        if op == "?" and missing:
            raise MissingVariable(f"{var}: {arg}")
        if op == "-" and missing:
            return arg
        return got or ""

    return VARIABLE.sub(value, text)


def parse(command: list[str], env: dict[str, str] | None = None) -> argparse.Namespace:
    """The command, interpolated with `env`, parsed by the `poolscope` CLI's own parser; a usage
    error fails the test."""
    argv = [interpolate(arg, env or {}) for arg in command]
    try:
        return build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"`poolscope` rejects {argv}")


@dataclass(frozen=True)
class ComposeStack:
    """What one compose file must hold, from dashboards/stack.py and the generator's modules."""

    file: str
    listening: dict[str, stack.Service]  # services that serve a port → stack.py's entry
    quiet: frozenset[str]  # services that listen on nothing (load generators, one-shots)
    volumes: frozenset[str]  # the named volumes, all declared and all used
    generated_mounts: dict[str, dict[str, str]]  # service → generated file → path it reads
    prometheus_file: str  # the generated Prometheus configuration it mounts
    home_dashboard: str  # the generated dashboard file Grafana opens on
    env: dict[str, str]  # example values for the variables it requires

    def services(self) -> dict[str, dict]:
        return services(self.file)


def _grafana_mounts(include_sglang: bool) -> dict[str, str]:
    return {
        DATASOURCES_FILE: "/etc/grafana/provisioning/datasources/poolscope.yml",
        DASHBOARDS_FILE: "/etc/grafana/provisioning/dashboards/poolscope.yml",
        **dashboard_mounts(include_sglang),
    }


_CORE = (stack.PROMETHEUS, stack.ALERTMANAGER, stack.ALERT_SINK, stack.GRAFANA)
_CORE_VOLUMES = frozenset({"prometheus-data", "alertmanager-data", "grafana-data"})
_ALERTMANAGER_MOUNTS = {ALERTMANAGER_FILE: "/etc/alertmanager/alertmanager.yml"}
_PASSWORD = {"GRAFANA_ADMIN_PASSWORD": "test-only"}

DEMO = ComposeStack(
    file="compose.yaml",
    listening={s.name: s for s in (stack.RUNTIME, stack.RUNTIME_FAULT, *_CORE)},
    quiet=frozenset({"loadgen", "loadgen-fault"}),
    volumes=_CORE_VOLUMES | {"runtime-cache"},
    generated_mounts={
        "prometheus": {
            PROMETHEUS_FILE: "/etc/prometheus/prometheus.yml",
            RULES_FILE: f"{stack.PROMETHEUS_RULES_DIR}/{RULES_FILE}",
        },
        "alertmanager": _ALERTMANAGER_MOUNTS,
        "grafana": _grafana_mounts(include_sglang=False),
    },
    prometheus_file=PROMETHEUS_FILE,
    home_dashboard=stack.DASHBOARD_FILE,
    env=_PASSWORD,
)
SGLANG = ComposeStack(
    file="compose.sglang.yaml",
    listening={s.name: s for s in (stack.LOG_EXPORTER, *_CORE)},
    quiet=frozenset({stack.SGLANG_TARGET_SERVICE}),
    volumes=_CORE_VOLUMES | {"sglang-targets"},
    generated_mounts={
        "prometheus": {
            stack.SGLANG_PROMETHEUS_FILE: "/etc/prometheus/prometheus.yml",
            **rule_mounts(),
        },
        "alertmanager": _ALERTMANAGER_MOUNTS,
        "grafana": _grafana_mounts(include_sglang=True),
    },
    prometheus_file=stack.SGLANG_PROMETHEUS_FILE,
    home_dashboard=stack.SGLANG_DASHBOARD_FILE,
    env={
        **_PASSWORD,
        "SGLANG_URL": "http://host.docker.internal:30000",
        "SGLANG_LOG_DIR": "/var/log/sglang",
    },
)
STACKS = (DEMO, SGLANG)
