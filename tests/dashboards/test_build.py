"""`poolscope dashboards build`: writes the generated files of both sources (poolscope, SGLang);
`--check` fails on stale ones; another SGLang prefix goes to its own folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards import sglang_alerts, stack
from dashboards.build import GENERATED, generated_files, stale, write
from runtime.cli.main import main


def test_check_passes_on_the_committed_files(capsys: pytest.CaptureFixture[str]) -> None:
    """The committed generated/ is current, so --check exits 0 and prints nothing."""
    assert main(["dashboards", "build", "--check"]) == 0
    assert capsys.readouterr().err == ""


def test_stale_names_missing_and_edited_files(tmp_path: Path) -> None:
    """Every generated file is stale in an empty folder, none after a build, and an edited one
    is stale again."""
    assert stale(tmp_path) == sorted(generated_files())
    write(tmp_path)
    assert stale(tmp_path) == []
    name = next(iter(generated_files()))
    (tmp_path / name).write_text((tmp_path / name).read_text() + "# hand edit\n")
    assert stale(tmp_path) == [name]


def test_both_sources_make_up_the_generated_folder() -> None:
    """generated/ holds poolscope's files and SGLang's (under sglang/: its dashboard, its rules
    and compose.sglang.yaml's Prometheus config), and nothing else."""
    poolscope, sglang = generated_files("poolscope"), generated_files("sglang")
    assert poolscope.keys().isdisjoint(sglang) and generated_files() == poolscope | sglang
    assert sorted(sglang) == sorted(
        [stack.SGLANG_DASHBOARD_FILE, stack.SGLANG_FLEET_DASHBOARD_FILE, sglang_alerts.RULES_FILE,
         stack.SGLANG_PROMETHEUS_FILE]
    )
    assert all(name.startswith("sglang/") for name in sglang)
    with pytest.raises(ValueError):
        generated_files("vllm")


def test_check_per_source_passes_on_the_committed_files() -> None:
    """`--source poolscope --check` and `--source sglang --check` both pass on generated/."""
    assert main(["dashboards", "build", "--source", "poolscope", "--check"]) == 0
    assert main(["dashboards", "build", "--source", "sglang", "--check"]) == 0


def test_other_prefix_needs_an_output_folder(capsys: pytest.CaptureFixture[str]) -> None:
    """`--prefix sglang_` without --out, or --prefix without `--source sglang`, is refused with
    exit 2 and writes nothing."""
    assert main(["dashboards", "build", "--source", "sglang", "--prefix", "sglang_"]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["dashboards", "build", "--prefix", "sglang:"]) == 2
    assert "--source sglang" in capsys.readouterr().err
    assert stale() == []


def test_other_prefix_goes_to_the_output_folder(tmp_path: Path) -> None:
    """`--source sglang --prefix sglang_ --out DIR` writes the two SGLang files under DIR/sglang/
    with `sglang_` names; --check passes there and fails against the committed `sglang:` files."""
    build = ["dashboards", "build", "--source", "sglang", "--prefix", "sglang_"]
    assert main([*build, "--out", str(tmp_path)]) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*"))
    assert written == sorted(generated_files("sglang"))
    rules = (tmp_path / sglang_alerts.RULES_FILE).read_text()
    assert "sglang_token_usage" in rules and "sglang:" not in rules.split("\n", 1)[1]
    assert "--prefix 'sglang_'" in rules.splitlines()[0]
    assert main([*build, "--out", str(tmp_path), "--check"]) == 0
    assert main([*build, "--out", str(GENERATED), "--check"]) == 1
