"""Vendored JSON schemas for files no server here can read (Grafana dashboards, compose)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "schemas"  # the workplace's originals, where present
COMPOSE = "compose-spec.schema.json"
GRAFANA_DASHBOARD = "grafana-dashboard.schema.json"


def validator(name: str) -> jsonschema.Draft7Validator:
    schema = json.loads((HERE / name).read_text())
    return jsonschema.Draft7Validator(schema)


def errors(name: str, document: object) -> list[str]:
    """Every schema violation, as `path: message`, sorted; empty when the document is valid."""
    found = validator(name).iter_errors(document)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in found)
