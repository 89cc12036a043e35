"""Shared by the deploy tests: external tools that must run in CI, rendering an overlay with
`kubectl kustomize`, and the vendored prometheus-operator CRD schemas."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import jsonschema
import pytest
import yaml

from deployment.k8s_build import DEPLOY_K8S
from tests.schemas import HERE as SCHEMAS

OVERLAYS = ("poolscope", "gpu", "otlp", "sglang")
CRD_SCHEMAS = SCHEMAS / "prometheus-operator"
K8S_VERSION = "1.37.0"  # the newest release kubernetes-validate 1.37.0 bundles


def require(tool: str) -> str:
    """The tool's path; a skip where it is missing, except in CI (CI=true), where it fails."""
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is required in CI")
        pytest.skip(f"needs {tool}")
    return path


class _Loader(yaml.SafeLoader):
    """kubectl writes `matchType: =` unquoted; YAML 1.1 reads a bare `=` as the `value` tag."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: node.value)


def load_all(text: str) -> list[dict]:
    return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc]


@cache
def _render(overlay: str, root: str) -> str:
    done = subprocess.run([require("kubectl"), "kustomize", str(Path(root) / overlay)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def render(overlay: str, root: Path = DEPLOY_K8S / "overlays") -> list[dict]:
    """The overlay's objects as `kubectl kustomize` renders them."""
    return load_all(_render(overlay, str(root)))


def find(objects: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objects
            if o["kind"] == kind and name in (None, o["metadata"]["name"])]


@cache
def _crd_validator(kind: str, version: str) -> jsonschema.Draft7Validator:
    schema = json.loads((CRD_SCHEMAS / f"{kind.lower()}-{version}.schema.json").read_text())
    return jsonschema.Draft7Validator(schema)


def crd_errors(obj: dict) -> list[str]:
    """Violations of the object's CRD schema, as `path: message`; empty when valid."""
    version = obj["apiVersion"].split("/")[1]
    found = _crd_validator(obj["kind"], version).iter_errors(obj)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in found)
