"""`poolscope deploy build`: the committed deploy/k8s/ equals a fresh build, `--check` catches a
changed, missing or leftover file, the verb never imports torch, and the generator keeps the
layering (only the catalogs and the dashboards' builders)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deployment.k8s_build import DEPLOY_K8S, generated_files, stale, write
from deployment.k8s_names import IMAGE
from telemetry import catalog
from tests.deploy.support import CRD_SCHEMAS
from tests.schemas import SHARED
from tests.test_layout import ROOT, _imports, _string_literals


def test_committed_manifests_are_current() -> None:
    """deploy/k8s/ holds exactly what `poolscope deploy build` writes now."""
    assert stale() == []


def test_check_reports_changed_missing_and_leftover_files(tmp_path: Path) -> None:
    """After a build into a folder, editing one file, deleting another and adding a third makes
    exactly those three stale."""
    write(tmp_path)
    assert stale(tmp_path) == []
    (tmp_path / "base/runtime-service.yaml").write_text("edited\n")
    (tmp_path / "monitoring/alertmanagerconfig.yaml").unlink()
    (tmp_path / "overlays/poolscope/old.yaml").write_text("kind: ConfigMap\n")
    assert stale(tmp_path) == ["base/runtime-service.yaml", "monitoring/alertmanagerconfig.yaml",
                               "overlays/poolscope/old.yaml"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from runtime.cli.main import main; rc = main(sys.argv[1:]); "
            "print(rc, 'torch' in sys.modules)")
    return subprocess.run([sys.executable, "-c", code, "deploy", "build", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_cli_builds_and_checks_without_importing_torch(tmp_path: Path) -> None:
    """`poolscope deploy build --out DIR` writes every file, `--check` then exits 0, and after an
    edit exits 1 naming the file; no run imports torch."""
    out = tmp_path / "k8s"
    assert _cli("--out", str(out)).stdout.split() == ["0", "False"]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(
        generated_files())
    assert _cli("--check", "--out", str(out)).stdout.split() == ["0", "False"]
    (out / "kube-prometheus-stack-values.yaml").write_text("{}\n")
    stale_run = _cli("--check", "--out", str(out))
    assert stale_run.stdout.split() == ["1", "False"]
    assert "kube-prometheus-stack-values.yaml" in stale_run.stderr


def test_generator_imports_only_catalogs_and_dashboards() -> None:
    """deployment/ imports telemetry and dashboards, never the runtime."""
    assert _imports("deployment") <= {"telemetry", "dashboards"}


def test_generator_spells_no_metric_name() -> None:
    """deployment/ takes metric names from catalog entries, never from a string literal."""
    names = {n for spec in catalog.METRICS + catalog.EXPORTER_METRICS
             for n in (spec.otel_name, spec.prometheus_name)}
    assert [text for _, text in _string_literals("deployment") if text in names] == []


@pytest.mark.parametrize("path", sorted(p.name for p in CRD_SCHEMAS.iterdir()))
def test_vendored_crd_schemas_match_shared(path: str) -> None:
    """Where ../shared/schemas exists, each vendored prometheus-operator file equals its
    original."""
    original = SHARED / "prometheus-operator" / path
    if not original.is_file():
        pytest.skip(f"no {original} on this machine (a clean clone elsewhere)")
    assert (CRD_SCHEMAS / path).read_bytes() == original.read_bytes()


def test_manifests_use_the_compose_stacks_image() -> None:
    """The manifests' image is the one compose.yaml builds and runs."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert compose["x-poolscope"]["image"] == IMAGE


def test_build_leaves_deploy_k8s_alone_when_writing_elsewhere(tmp_path: Path) -> None:
    """A build with --out writes nothing under the committed deploy/k8s/."""
    before = {p: p.stat().st_mtime_ns for p in DEPLOY_K8S.rglob("*") if p.is_file()}
    write(tmp_path / "elsewhere")
    assert {p: p.stat().st_mtime_ns for p in DEPLOY_K8S.rglob("*") if p.is_file()} == before
    shutil.rmtree(tmp_path / "elsewhere")
