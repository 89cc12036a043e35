"""`poolscope dashboards build`: writes the generated files; `--check` fails on stale ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.build import generated_files, stale, write
from runtime.cli import main


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
