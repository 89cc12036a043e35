"""Streaming sessions over HTTP: turns continue the context, one turn at a time, close frees."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.server.harness import (
    assert_served_memory_clean,
    greedy_body,
    hf_greedy,
    served,
    wait_idle,
    wait_until,
)

pytestmark = pytest.mark.slow

FIXTURES = {"nemotron_h": "nemotron_h_dir", "gemma3_text": "gemma3_dir"}


def _turn(client: httpx.Client, sid: str, prompt: list[int], n: int) -> list[int]:
    answer = client.post("/v1/completions", json=greedy_body(prompt, n, session_id=sid))
    assert answer.status_code == 200, answer.text
    return answer.json()["choices"][0]["token_ids"]


@pytest.mark.parametrize("model_type", list(FIXTURES))
def test_a_multi_turn_session_equals_one_request_with_the_history(
    model_type: str, request: pytest.FixtureRequest
) -> None:
    """Three turns in a session give the tokens one request carrying the whole history gives
    (and transformers agrees); the session holds memory until it is closed."""
    model_dir: Path = request.getfixturevalue(FIXTURES[model_type])
    turns = [[11, 12, 13, 14, 15, 16, 17], [40, 41, 42], [90, 91, 92, 93, 94]]
    with served(model_dir, chunked_prefill_size=4) as s, httpx.Client(base_url=s.url) as client:
        sid = client.post("/v1/sessions", json={}).json()["id"]
        history: list[int] = []
        for prompt in turns:
            out = _turn(client, sid, prompt, 6)
            assert out == hf_greedy(model_type, history + prompt, 6)
            history += prompt + out
        held = s.summary().stats.pools
        assert held["req"].session_held == 1
        closed = client.delete(f"/v1/sessions/{sid}")
        assert closed.json() == {"id": sid, "object": "session", "deleted": True}
        assert client.delete(f"/v1/sessions/{sid}").status_code == 404
        alone = client.post("/v1/completions", json=greedy_body(history[:-6], 6)).json()
        assert alone["choices"][0]["token_ids"] == history[-6:]
        wait_idle(s)


def test_a_second_concurrent_turn_is_refused_and_close_aborts_the_running_one(
    nemotron_h_dir: Path,
) -> None:
    """While a turn streams, another turn on the session is a 409; closing the session ends
    the stream with finish_reason abort and frees everything."""
    with served(nemotron_h_dir) as s, httpx.Client(base_url=s.url, timeout=60) as client:
        sid = client.post("/v1/sessions", json={}).json()["id"]
        body = greedy_body([5, 6, 7], 3000, session_id=sid, stream=True)
        with client.stream("POST", "/v1/completions", json=body) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith("data: ")
            second = client.post("/v1/completions", json=greedy_body([1], 2, session_id=sid))
            assert second.status_code == 409
            assert second.json()["error"]["code"] == "session_busy"
            assert client.delete(f"/v1/sessions/{sid}").status_code == 200
            rest = [line for line in lines if line.startswith("data: {")]
        assert any('"finish_reason":"abort"' in line for line in rest[-2:])
        error = json.loads(rest[-1].removeprefix("data: "))["error"]
        assert error["code"] == "session_closed_during_turn" and "closed" in error["message"]
        wait_idle(s)
    assert_served_memory_clean(s)


def test_closing_a_session_during_its_non_streamed_turn_answers_it_with_a_410(
    nemotron_h_dir: Path,
) -> None:
    """The client closed the session, so the turn it was running is answered with a 4xx (410)
    saying so, not a server error; memory is freed."""
    with served(nemotron_h_dir) as s, httpx.Client(base_url=s.url, timeout=60) as client:
        sid = client.post("/v1/sessions", json={}).json()["id"]
        body = greedy_body([5, 6, 7], 3000, session_id=sid)
        with ThreadPoolExecutor(1) as pool:
            turn = pool.submit(client.post, "/v1/completions", json=body)
            wait_until(lambda: s.summary().num_running > 0)
            assert client.delete(f"/v1/sessions/{sid}").status_code == 200
            answer = turn.result()
        assert answer.status_code == 410, answer.text
        error = answer.json()["error"]
        assert error["code"] == "session_closed_during_turn" and sid in error["message"]
        wait_idle(s)
    assert_served_memory_clean(s)


def test_idle_sessions_expire(nemotron_h_dir: Path) -> None:
    """A session idle past the timeout is closed: its memory is freed and its id is a 404."""
    with served(nemotron_h_dir, session_timeout_s=0.3) as s, httpx.Client(base_url=s.url) as c:
        sid = c.post("/v1/sessions", json={}).json()["id"]
        _turn(c, sid, [1, 2, 3], 2)
        wait_until(lambda: s.summary().num_sessions == 0)
        gone = c.post("/v1/completions", json=greedy_body([4], 2, session_id=sid))
        assert gone.status_code == 404
        assert gone.json()["error"]["code"] == "session_not_found"


def test_too_many_sessions_is_a_429(nemotron_h_dir: Path) -> None:
    """Opening more sessions than --max-sessions is refused with 429 until one closes."""
    with served(nemotron_h_dir, max_sessions=1) as s, httpx.Client(base_url=s.url) as c:
        sid = c.post("/v1/sessions", json={}).json()["id"]
        refused = c.post("/v1/sessions", json={})
        assert refused.status_code == 429
        assert refused.json()["error"]["type"] == "rate_limit_error"
        c.delete(f"/v1/sessions/{sid}")
        again = c.post("/v1/sessions", json={})
        assert again.status_code == 200
        assert c.delete(f"/v1/sessions/{again.json()['id']}").status_code == 200
