"""Streaming, chat, the model list and health; disconnects and engine failures."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from runtime.memory.memory_config import LeakPolicy
from tests.server.harness import assert_served_memory_clean, greedy_body, served, wait_idle
from tests.support import wait_until

pytestmark = pytest.mark.slow


def _events(response: httpx.Response) -> list[str]:
    return [line[len("data: ") :] for line in response.iter_lines() if line.startswith("data: ")]


def test_a_stream_carries_the_same_tokens_as_a_whole_answer(nemotron_h_dir: Path) -> None:
    """SSE chunks concatenate to the non-streamed answer, then usage, then [DONE]."""
    with served(nemotron_h_dir) as s, httpx.Client(base_url=s.url, timeout=60) as client:
        whole = client.post("/v1/completions", json=greedy_body([3, 4, 5], 8)).json()
        body = greedy_body([3, 4, 5], 8, stream=True, stream_options={"include_usage": True})
        with client.stream("POST", "/v1/completions", json=body) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = _events(response)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    usage = chunks.pop()
    assert usage["choices"] == [] and usage["usage"] == whole["usage"]
    ids = [t for c in chunks for t in c["choices"][0]["token_ids"]]
    assert ids == whole["choices"][0]["token_ids"]
    assert "".join(c["choices"][0]["text"] for c in chunks) == whole["choices"][0]["text"]
    assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == "length"
    assert whole["usage"] == {"prompt_tokens": 3, "completion_tokens": 8, "total_tokens": 11,
                              "prompt_tokens_details": {"cached_tokens": 0}}


def test_chat_completions_whole_and_streamed(nemotron_h_dir: Path) -> None:
    """Chat renders the plain template, answers with an assistant message, streams deltas
    (role first), and gives logprobs of the chosen tokens when asked."""
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    base = {"messages": messages, "max_tokens": 5, "temperature": 0, "ignore_eos": True}
    with served(nemotron_h_dir) as s, httpx.Client(base_url=s.url, timeout=60) as client:
        whole = client.post("/v1/chat/completions", json={**base, "logprobs": True}).json()
        with client.stream("POST", "/v1/chat/completions", json={**base, "stream": True}) as r:
            chunks = [json.loads(e) for e in _events(r)[:-1]]
    assert whole["object"] == "chat.completion"
    message = whole["choices"][0]["message"]
    assert message["role"] == "assistant"
    assert whole["usage"]["prompt_tokens"] == len("system: be brief\nuser: hi\nassistant:")
    content = whole["choices"][0]["logprobs"]["content"]
    assert len(content) == 5 and all(e["logprob"] <= 0 for e in content)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == message["content"]


def test_models_and_health(nemotron_h_dir: Path) -> None:
    """/v1/models lists the served model with its context; /health is ok."""
    with served(nemotron_h_dir, max_context=512) as s, httpx.Client(base_url=s.url) as client:
        models = client.get("/v1/models").json()
        assert client.get("/health").json() == {"status": "ok"}
    assert models["data"][0]["id"] == nemotron_h_dir.name
    assert models["data"][0]["max_model_len"] == 512


def test_a_client_that_disconnects_mid_stream_frees_its_memory(nemotron_h_dir: Path) -> None:
    """Closing a stream after two chunks aborts the request: it leaves the engine, and the
    idle check is clean with every slot back."""
    with served(nemotron_h_dir) as s:
        with httpx.Client(base_url=s.url, timeout=60) as client:
            body = greedy_body(list(range(1, 40)), 3000, stream=True)
            with client.stream("POST", "/v1/completions", json=body) as response:
                lines = response.iter_lines()
                assert next(lines).startswith("data: ")
                wait_until(lambda: s.summary().stats.pools["full"].running > 0)
        wait_idle(s)
        assert s.summary().num_retracted == 0
    assert_served_memory_clean(s)


def test_a_client_that_gives_up_on_a_whole_answer_frees_its_memory(nemotron_h_dir: Path) -> None:
    """A non-streamed request whose client times out and disconnects is aborted too."""
    with served(nemotron_h_dir) as s:
        with httpx.Client(base_url=s.url, timeout=0.5) as client, pytest.raises(httpx.ReadTimeout):
            client.post("/v1/completions", json=greedy_body([1, 2], 3000))
        wait_idle(s)
    assert_served_memory_clean(s)


def test_a_leak_with_on_leak_raise_stops_the_engine_with_clear_errors(
    nemotron_h_dir: Path,
) -> None:
    """With --on-leak raise, an injected double free stops the engine after the step that
    broke the invariant: a stream in flight ends with an error naming it, /health turns 503,
    and new requests are 503s, not hangs."""
    faults = frozenset({"kv_double_free"})
    with pytest.raises(AssertionError, match="double_free"):
        with served(nemotron_h_dir, faults=faults, on_leak=LeakPolicy.RAISE) as s:
            with httpx.Client(base_url=s.url, timeout=60) as client:
                long = greedy_body([9, 9], 3000, stream=True)
                with client.stream("POST", "/v1/completions", json=long) as stream:
                    lines = stream.iter_lines()
                    assert next(lines).startswith("data: ")
                    for _ in range(2):  # the second frees its duplicate pages twice
                        client.post("/v1/completions", json=greedy_body([1, 2, 3], 3))
                    rest = [line[6:] for line in lines if line.startswith("data: ")]
                    events = [json.loads(e) for e in rest[:-1]]
                assert "double_free" in events[-1]["error"]["message"]
                assert events[-2]["choices"][0]["finish_reason"] == "abort"
                wait_until(lambda: not s.engine.is_running)
                health = client.get("/health")
                assert health.status_code == 503
                assert "double_free" in health.json()["detail"]
                after = client.post("/v1/completions", json=greedy_body([7], 1))
                assert after.status_code == 503
                assert after.json()["error"]["code"] == "engine_stopped"


def test_completion_logprobs_follow_openai_layout(nemotron_h_dir: Path) -> None:
    """logprobs=2 gives each chosen token's logprob and its top-2 alternatives; the chosen
    greedy token is the most likely one."""
    with served(nemotron_h_dir) as s, httpx.Client(base_url=s.url, timeout=60) as client:
        body = greedy_body([3, 4, 5], 4, logprobs=2)
        logprobs = client.post("/v1/completions", json=body).json()["choices"][0]["logprobs"]
    assert len(logprobs["tokens"]) == len(logprobs["token_logprobs"]) == 4
    for chosen, top in zip(logprobs["token_logprobs"], logprobs["top_logprobs"], strict=True):
        assert len(top) <= 2 and chosen == pytest.approx(max(top.values()))
