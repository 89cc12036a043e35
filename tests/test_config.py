"""Runtime settings from the environment: the oneDNN primitive cache bound."""

from __future__ import annotations

import os
import subprocess
import sys

from runtime.config import ONEDNN_CACHE_ENV, bound_onednn_cache


def test_the_onednn_cache_is_off_unless_the_user_sized_it() -> None:
    """Without a setting the capacity becomes 0 (no per-shape primitives kept, so RSS stays
    flat); a capacity the user set is kept."""
    env: dict[str, str] = {}
    assert bound_onednn_cache(env) == "0" and env[ONEDNN_CACHE_ENV] == "0"
    mine = {ONEDNN_CACHE_ENV: "256"}
    assert bound_onednn_cache(mine) == "256" and mine[ONEDNN_CACHE_ENV] == "256"


def test_an_engine_process_runs_with_the_cache_bounded(nemotron_h_dir: object) -> None:
    """Engine.from_config sets the bound before the model's first matmul, in a fresh process."""
    code = ("import os; from runtime.engine.engine import Engine; "
            "from runtime.engine.config import EngineConfig;"
            f" Engine.from_config(EngineConfig(model={str(nemotron_h_dir)!r}));"
            f" print(os.environ[{ONEDNN_CACHE_ENV!r}])")
    env = {k: v for k, v in os.environ.items() if k != ONEDNN_CACHE_ENV}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "0"
