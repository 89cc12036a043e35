"""Tests for runtime.loadgen.sse: events survive any split of the byte stream; chunks parse."""

from __future__ import annotations

import pytest

from runtime.loadgen.sse import SSEDecoder, StreamChunk, Usage, error_message, parse_chunk
from tests.loadgen.fake_server import completion_stream, sse, text_chunk, usage


def _decode_in_pieces(body: bytes, piece_size: int) -> list[str]:
    decoder = SSEDecoder()
    events: list[str] = []
    for start in range(0, len(body), piece_size):
        events.extend(decoder.feed(body[start : start + piece_size]))
    return events + decoder.close()


@pytest.mark.parametrize("piece_size", [1, 2, 3, 7, 64, 10_000])
def test_split_reads_give_the_same_events(piece_size: int) -> None:
    """However the stream is cut into reads, the decoder yields the same event data."""
    body = completion_stream(num_prompt_tokens=5, max_tokens=4)
    events = _decode_in_pieces(body, piece_size)
    assert events == _decode_in_pieces(body, len(body))
    assert len(events) == 4 + 2  # four text chunks, the usage chunk, [DONE]
    assert events[-1] == "[DONE]"


def test_crlf_split_between_reads() -> None:
    """A CRLF line end cut between two reads ends one line, not two."""
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a": 1}\r') == []
    assert decoder.feed(b"\n\r") == []
    assert decoder.feed(b"\ndata: [DONE]\r\n\r\n") == ['{"a": 1}', "[DONE]"]


def test_multibyte_character_split_between_reads() -> None:
    """A UTF-8 character cut between two reads decodes whole."""
    body = text_chunk("héllo ✓")
    cut = body.index("✓".encode()) + 1
    decoder = SSEDecoder()
    events = decoder.feed(body[:cut]) + decoder.feed(body[cut:])
    assert parse_chunk(events[0]).text == "héllo ✓"


def test_comments_fields_and_multiline_data() -> None:
    """Comments and other fields are skipped; several data lines join with a newline."""
    decoder = SSEDecoder()
    events = decoder.feed(b": keep-alive\n\nevent: x\nid: 3\ndata: one\ndata:two\n\nretry: 5\n\n")
    assert events == ["one\ntwo"]


def test_close_keeps_an_unterminated_last_event() -> None:
    """At end of stream, an event missing its blank line is still returned, once."""
    decoder = SSEDecoder()
    assert decoder.feed(b"data: [DONE]") == []
    assert decoder.close() == ["[DONE]"]
    assert decoder.close() == []


def test_parse_text_chunk() -> None:
    """A content chunk gives its text, finish reason and usage."""
    data = text_chunk(" hi", "length", usage(3, 2)).decode()[len("data: ") :].strip()
    assert parse_chunk(data) == StreamChunk(text=" hi", finish_reason="length", usage=Usage(3, 2))


def test_parse_usage_only_chunk() -> None:
    """A chunk with no choices but usage gives empty text and the usage."""
    chunk = parse_chunk('{"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 9}}')
    assert chunk.text == "" and chunk.usage == Usage(4, 9) and not chunk.is_done


def test_parse_done_and_error() -> None:
    """[DONE] marks the end; an error chunk gives the server's message."""
    assert parse_chunk("[DONE]").is_done
    error = sse(
        {"error": {"message": "out of slots", "type": "server_error", "param": None, "code": 503}}
    ).decode()
    (data,) = SSEDecoder().feed(error.encode())
    assert parse_chunk(data) == StreamChunk(error="out of slots")


@pytest.mark.parametrize("data", ["not json", "[1, 2]"])
def test_parse_rejects_non_objects(data: str) -> None:
    """A payload that is neither [DONE] nor a JSON object raises ValueError."""
    with pytest.raises(ValueError, match="stream chunk"):
        parse_chunk(data)


def test_malformed_usage_is_ignored() -> None:
    """Usage without the token counts reads as no usage rather than failing the request."""
    assert parse_chunk('{"choices": [{"text": "x"}], "usage": {"total_tokens": 3}}').usage is None


def test_error_message_falls_back_to_the_body() -> None:
    """An error body without a message is shown as itself."""
    assert error_message({"error": {"message": "bad model"}}) == "bad model"
    assert error_message({"error": "plain"}) == "plain"
    assert error_message({"detail": "x"}) == "{'detail': 'x'}"
