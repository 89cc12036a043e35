"""Tests for telemetry.export.state: batch lines of every form set the per-pool figures (HiSparse
gpu/cpu tokens as full/host), leak lines count per pool and kind."""

from __future__ import annotations

import pytest

from telemetry.export.state import LogState
from telemetry.logs.parse import parse_line

PLAIN = (
    "Decode batch. #running-req: 3, #token: 420, token usage: 0.21, "
    "gen throughput (token/s): 95.50, #queue-req: 1"
)
SWA = (
    "Decode batch, #running-req: 4, #full token: 812, full token usage: 0.41, "
    "#swa token: 96, swa token usage: 0.12, cuda graph: True, "
    "gen throughput (token/s): 311.20, #queue-req: 0, "
)
MAMBA = (
    "Decode batch, #running-req: 4, #token: 812, token usage: 0.50, mamba num: 12, "
    "mamba usage: 0.75, cuda graph: True, gen throughput (token/s): 40.00, #queue-req: 5"
)
HISPARSE = (
    "Decode batch, #running-req: 1, #gpu token: 10, gpu token usage: 0.10, "
    "#cpu token: 100, cpu token usage: 0.20, cuda graph: False, "
    "gen throughput (token/s): 9.00, #queue-req: 0"
)
PREFILL = (
    "[2024-08-10 10:00:01 TP0] Prefill batch. #new-seq: 1, #new-token: 7, "
    "#cached-token: 1, cache hit rate: 12.50%, token usage: 0.30, #running-req: 0, "
    "#queue-req: 2"
)


def _state(*lines: str) -> LogState:
    state = LogState()
    for line in lines:
        record = parse_line(line)
        assert record is not None, line
        state.apply(record)
    return state


@pytest.mark.parametrize(
    ("line", "used", "usage", "token_usage"),
    [
        pytest.param(PLAIN, {"full": 420}, {"full": 0.21}, 0.21, id="plain-2024"),
        pytest.param(SWA, {"full": 812, "swa": 96}, {"full": 0.41, "swa": 0.12}, 0.41, id="swa"),
        pytest.param(MAMBA, {"full": 812, "mamba": 12}, {"full": 0.5, "mamba": 0.75}, 0.75,
                     id="mamba"),
        pytest.param(HISPARSE, {"full": 10, "host": 100}, {"full": 0.1, "host": 0.2}, 0.1,
                     id="hisparse"),
    ],
)
def test_decode_line_sets_pool_figures(
    line: str, used: dict, usage: dict, token_usage: float
) -> None:
    """Each decode form maps its parts onto our pools; token_usage is the max over full, swa
    and mamba (host excluded)."""
    state = _state(line)
    assert (state.used, state.usage, state.token_usage) == (used, usage, token_usage)


def test_requests_and_throughput_follow_the_latest_line() -> None:
    """Running, queued and throughput come from the latest line that has them; a prefill line
    leaves the decode throughput alone and adds its prompt and cached tokens."""
    state = _state(PLAIN, PREFILL, PREFILL)
    assert (state.num_running, state.num_queued, state.gen_throughput) == (0, 2, 95.5)
    assert (state.num_prompt_tokens, state.num_cached_tokens) == (14, 2)
    assert state.usage == {"full": 0.3} and state.used == {"full": 420}


def test_a_pool_the_line_does_not_mention_keeps_its_figures() -> None:
    """A later plain line updates full and leaves the swa figures of an earlier line."""
    state = _state(SWA, PLAIN)
    assert state.usage == {"full": 0.21, "swa": 0.12}
    assert state.kv_token_usage == 0.21


def test_leak_lines_count_per_pool_and_kind() -> None:
    """Leak messages increment their pool's leak or double_free count and set leaked slots."""
    state = _state(
        "token_to_kv_pool_allocator memory leak detected! available_size=10, "
        "self.max_total_num_tokens=100",
        "[swa] total=64, available=70, evictable=1, protected=0, session_held=0",
        "[swa] total=64, available=66, evictable=0, protected=0, session_held=0",
    )
    counted = {key: n for key, n in state.leaks.items() if n}
    assert counted == {("full", "leak"): 1, ("swa", "double_free"): 2}
    assert state.leaked_slots == {"full": 90, "swa": -2}
    assert len(state.leaks) == 10  # every pool and kind, from the start
