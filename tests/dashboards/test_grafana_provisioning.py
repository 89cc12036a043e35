"""Grafana provisioning loads both generated dashboards: the file provider's folder holds the
mount target of each, both default to the provisioned datasource, and their uids differ."""

from __future__ import annotations

import json
from pathlib import PurePosixPath

import yaml

from dashboards import stack
from dashboards.build import GENERATED, generated_files
from dashboards.grafana_provisioning import DASHBOARDS_FILE, DATASOURCES_FILE, dashboard_mounts


def _provider_path() -> PurePosixPath:
    (provider,) = yaml.safe_load(generated_files()[DASHBOARDS_FILE])["providers"]
    assert provider["type"] == "file"
    return PurePosixPath(provider["options"]["path"])


def test_default_mounts_are_poolscope_only() -> None:
    """Without SGLang the mounts are exactly the poolscope dashboards (per instance and fleet),
    as compose binds them now."""
    assert dashboard_mounts() == {
        name: f"{stack.GRAFANA_DASHBOARDS_DIR}/{name}"
        for name in (stack.DASHBOARD_FILE, stack.FLEET_DASHBOARD_FILE)
    }


def test_both_dashboards_land_where_the_provider_reads() -> None:
    """With SGLang, each dashboard is a generated file bound to its own path inside the file
    provider's folder."""
    mounts = dashboard_mounts(include_sglang=True)
    assert set(mounts) == {stack.DASHBOARD_FILE, stack.SGLANG_DASHBOARD_FILE,
                           stack.FLEET_DASHBOARD_FILE, stack.SGLANG_FLEET_DASHBOARD_FILE}
    assert set(mounts) <= set(generated_files())
    assert len(set(mounts.values())) == 4
    for target in mounts.values():
        assert PurePosixPath(target).parent == _provider_path()
        assert target.endswith(".json")


def test_both_dashboards_use_the_provisioned_datasource_and_own_uids() -> None:
    """Both dashboards' datasource variable defaults to the provisioned datasource's uid, and
    their uids differ (Grafana refuses two provisioned dashboards with one uid)."""
    (source,) = yaml.safe_load(generated_files()[DATASOURCES_FILE])["datasources"]
    uids = set()
    for name in dashboard_mounts(include_sglang=True):
        board = json.loads((GENERATED / name).read_text())
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["current"]["value"] == source["uid"]
        uids.add(board["uid"])
    assert uids == {stack.DASHBOARD_UID, stack.SGLANG_DASHBOARD_UID, stack.FLEET_DASHBOARD_UID,
                    stack.SGLANG_FLEET_DASHBOARD_UID}
