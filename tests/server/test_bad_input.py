"""Bad input never gives a 500 and never stops the server: each is a 4xx with an OpenAI-style
error naming the problem, and the next good request is served."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.server.harness import Served, greedy_body, served

pytestmark = pytest.mark.slow

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from tests.checkpoints import build_hf_checkpoint

    model_dir = build_hf_checkpoint("nemotron_h", tmp_path_factory.mktemp("nemotron_h"))
    with served(model_dir, api_key=KEY, max_context=256) as s:
        yield s


@pytest.fixture
def client(server: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as c:
        yield c


def _assert_error(response: httpx.Response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    for word in words:
        assert word in error["message"], error
    return error


def _still_serves(client: httpx.Client) -> None:
    ok = client.post("/v1/completions", json=greedy_body([1, 2, 3], 2))
    assert ok.status_code == 200
    assert len(ok.json()["choices"][0]["token_ids"]) == 2


@pytest.mark.parametrize(
    ("body", "status", "words", "param"),
    [
        ({"max_tokens": 4}, 400, ["prompt", "Field required"], "prompt"),
        ({"prompt": "hi", "max_tokens": "4"}, 400, ["max_tokens", "valid integer"], "max_tokens"),
        ({"prompt": 42}, 400, ["prompt"], "prompt.str"),
        ({"prompt": "hi", "max_tokens": 0}, 400, ["max_tokens", ">= 1"], None),
        ({"prompt": "hi", "max_tokens": -3}, 400, ["max_tokens"], None),
        ({"prompt": "hi", "max_tokens": 300}, 400, ["maximum context length is 256"],
         "max_tokens"),
        ({"prompt": [1] * 300, "max_tokens": 1}, 400, ["300 tokens", "256"], "prompt"),
        ({"prompt": "", "max_tokens": 1}, 400, ["empty"], "prompt"),
        ({"prompt": [9999], "max_tokens": 1}, 400, ["vocabulary"], "prompt"),
        ({"prompt": "hi", "temperature": -1}, 400, ["temperature"], None),
        ({"prompt": "hi", "top_p": 0}, 400, ["top_p"], None),
        ({"prompt": "hi", "n": 2}, 400, ["n"], "n"),
        ({"prompt": ["a", "b"]}, 400, ["batched prompts"], "prompt"),
        ({"prompt": "hi", "model": "gpt-9"}, 404, ["gpt-9"], "model"),
        ({"prompt": "hi", "session_id": "sess-nope"}, 404, ["not open"], "session_id"),
    ],
)  # fmt: skip
def test_bad_completion_bodies_are_4xx(
    client: httpx.Client, body: dict, status: int, words: list[str], param: str | None
) -> None:
    """Each malformed or unservable completion body gets its status and a message naming it."""
    error = _assert_error(client.post("/v1/completions", json=body), status, *words)
    if param is not None:
        assert error["param"] == param
    _still_serves(client)


def test_invalid_json_is_a_400(client: httpx.Client) -> None:
    """A body that is not JSON is a 400 that says so."""
    response = client.post("/v1/completions", content=b"{not json",
                           headers={"content-type": "application/json"})  # fmt: skip
    _assert_error(response, 400, "not valid JSON")
    _still_serves(client)


def test_bad_chat_bodies_are_400(client: httpx.Client) -> None:
    """No messages, an unknown role, or content that is not a string: 400s."""
    for messages in ([], [{"role": "wizard", "content": "x"}], [{"role": "user", "content": 5}]):
        response = client.post("/v1/chat/completions", json={"messages": messages})
        _assert_error(response, 400, "messages")
    _still_serves(client)


def test_an_oversized_body_is_a_413(client: httpx.Client) -> None:
    """A body over --max-body-bytes is refused before it is parsed, with or without a length."""
    big = b'{"prompt": "' + b"x" * (2 << 20) + b'"}'
    _assert_error(client.post("/v1/completions", content=big), 413, "larger than")

    def chunks() -> Iterator[bytes]:
        yield big

    response = client.post("/v1/completions", content=chunks())  # chunked: no Content-Length
    assert response.status_code in (400, 413)
    _still_serves(client)


def test_a_wrong_or_missing_api_key_is_a_401(server: Served) -> None:
    """Every API route needs the key; /health and /metrics do not."""
    with httpx.Client(base_url=server.url) as bare:
        _assert_error(bare.post("/v1/completions", json=greedy_body([1], 1)), 401, "missing")
        wrong = {"Authorization": "Bearer nope"}
        _assert_error(bare.get("/v1/models", headers=wrong), 401, "invalid API key")
        _assert_error(bare.post("/v1/sessions", headers=wrong), 401)
        assert bare.get("/health").status_code == 200
        assert bare.get("/metrics").status_code == 200


def test_unknown_routes_and_methods_are_4xx(client: httpx.Client) -> None:
    """A wrong path is a 404 and a wrong method a 405, both as OpenAI-style errors."""
    _assert_error(client.get("/v1/nothing"), 404)
    _assert_error(client.get("/v1/completions"), 405)
    _assert_error(client.delete("/v1/sessions/sess-unknown"), 404, "not open")
