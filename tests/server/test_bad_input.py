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
        ({"prompt": 42}, 400, ["prompt"], "prompt"),
        ({"prompt": "hi", "max_tokens": 0}, 400, ["max_tokens", "greater than or equal to 1"],
         "max_tokens"),
        ({"prompt": "hi", "max_tokens": -3}, 400, ["max_tokens"], "max_tokens"),
        ({"prompt": "hi", "max_tokens": 300}, 400, ["maximum context length is 256"],
         "max_tokens"),
        ({"prompt": [1] * 300, "max_tokens": 1}, 400, ["300 tokens", "256"], "prompt"),
        ({"prompt": "", "max_tokens": 1}, 400, ["empty"], "prompt"),
        ({"prompt": [9999], "max_tokens": 1}, 400, ["vocabulary"], "prompt"),
        ({"prompt": "hi", "temperature": -1}, 400, ["temperature"], "temperature"),
        ({"prompt": "hi", "top_p": 0}, 400, ["top_p"], "top_p"),
        ({"prompt": "hi", "n": 2}, 400, ["n"], "n"),
        ({"prompt": ["a", "b"]}, 400, ["batched prompts"], "prompt"),
        ({"prompt": "hi", "model": "gpt-9"}, 404, ["gpt-9"], "model"),
        ({"prompt": "hi", "session_id": "sess-nope"}, 404, ["not open"], "session_id"),
    ],
)
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
                           headers={"content-type": "application/json"})
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
    """A wrong path is a 404 and a wrong method a 405 that names the allowed methods in
    `Allow`, both as OpenAI-style errors."""
    _assert_error(client.get("/v1/nothing"), 404)
    wrong = client.get("/v1/completions")
    _assert_error(wrong, 405)
    assert wrong.headers["allow"] == "POST"
    _assert_error(client.delete("/v1/sessions/sess-unknown"), 404, "not open")


# JSON text with a lone surrogate: valid JSON, but not Unicode any tokenizer can encode.
LONE = "a\\ud800b"
SURROGATE_BODIES = [
    ("/v1/completions", f'{{"prompt": "{LONE}"}}', "prompt"),
    ("/v1/completions", f'{{"prompt": ["{LONE}"]}}', "prompt"),
    ("/v1/completions", f'{{"prompt": "hi", "stop": "{LONE}"}}', "stop"),
    ("/v1/completions", f'{{"prompt": "hi", "stop": ["ok", "{LONE}"]}}', "stop"),
    ("/v1/completions", f'{{"prompt": "hi", "user": "{LONE}"}}', "user"),
    ("/v1/completions", f'{{"prompt": "hi", "model": "{LONE}"}}', "model"),
    ("/v1/chat/completions", f'{{"messages": [{{"role": "user", "content": "{LONE}"}}]}}',
     "messages.0.content"),
    ("/v1/chat/completions",
     f'{{"messages": [{{"role": "user", "content": "hi"}}], "stop": ["{LONE}"]}}', "stop"),
    ("/v1/chat/completions",
     f'{{"messages": [{{"role": "user", "content": "hi"}}], "session_id": "{LONE}"}}',
     "session_id"),
]


@pytest.mark.parametrize(("path", "body", "param"), SURROGATE_BODIES)
def test_text_with_a_lone_surrogate_is_a_400_naming_the_field(
    client: httpx.Client, path: str, body: str, param: str
) -> None:
    """A lone surrogate in any text field (prompt, chat content, stop strings, ...) is a 400
    whose param names that field, on every route, and the server keeps serving."""
    json_type = {"content-type": "application/json"}
    response = client.post(path, content=body.encode(), headers=json_type)
    error = _assert_error(response, 400, "surrogate")
    assert error["param"] is not None and error["param"].startswith(param), error
    _still_serves(client)


def test_a_surrogate_pair_is_valid_text(client: httpx.Client) -> None:
    """A complete surrogate pair in JSON is one valid character, and is served."""
    body = b'{"messages": [{"role": "user", "content": "\\ud83d\\ude00"}], "max_tokens": 2}'
    response = client.post("/v1/chat/completions", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
@pytest.mark.parametrize("value", [0, -1])
def test_chat_refuses_max_tokens_below_one_like_completions(
    client: httpx.Client, field: str, value: int
) -> None:
    """Chat applies the same rule as completions: max_tokens (or max_completion_tokens) below
    1 is a 400 naming the field, never clamped to 1."""
    body = {"messages": [{"role": "user", "content": "hi"}], field: value}
    error = _assert_error(client.post("/v1/chat/completions", json=body), 400, field)
    assert error["param"] == field
    completions = client.post("/v1/completions", json={"prompt": "hi", "max_tokens": value})
    assert _assert_error(completions, 400, "max_tokens")["param"] == "max_tokens"


def test_the_openapi_schema_is_served_with_the_real_errors(server: Served) -> None:
    """/openapi.json is served (without the API key), lists each route's real error replies
    with the error body, and no 422 (validation problems are 400s)."""
    with httpx.Client(base_url=server.url) as bare:
        response = bare.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    completions = schema["paths"]["/v1/completions"]["post"]["responses"]
    assert {"200", "400", "401", "404", "409", "410", "503"} <= set(completions)
    assert "text/event-stream" in completions["200"]["content"]
    error = completions["400"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/ErrorResponse")
    assert all("422" not in op["responses"] for ops in schema["paths"].values()
               for op in ops.values())
