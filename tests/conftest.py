"""Shared fixtures: tiny random HF checkpoints built locally (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.checkpoints import build_hf_checkpoint
from tests.support.logs import fresh_logging  # noqa: F401 (a fixture, offered to every test)


@pytest.fixture(scope="session")
def nemotron_h_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hf_checkpoint("nemotron_h", tmp_path_factory.mktemp("nemotron_h"))


@pytest.fixture(scope="session")
def gemma3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hf_checkpoint("gemma3_text", tmp_path_factory.mktemp("gemma3_text"))


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty POOLSCOPE_CACHE_DIR, so tests never touch the user's cache."""
    monkeypatch.setenv("POOLSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def hybrid_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built-in default model (full, swa and mamba pools at once), built in a temp cache."""
    from runtime.model.default_model import ensure_default_model

    return ensure_default_model(tmp_path_factory.mktemp("poolscope-cache"))
