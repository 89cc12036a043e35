"""TextStream: multi-byte characters, stop strings held back and cut, flush on finish."""

from __future__ import annotations

import pytest

from runtime.model.tokenizer import ByteTokenizer
from runtime.scheduler.text_stream import TextStream


def _stream(text: str, stop: tuple[str, ...] = ()) -> tuple[TextStream, list[str]]:
    """A stream fed `text` byte by byte (until it stops), and the deltas it returned."""
    stream = TextStream(ByteTokenizer(), stop)
    deltas = []
    for token_id in text.encode("utf-8"):
        if stream.stopped:
            break
        deltas.append(stream.push(token_id))
    return stream, deltas


@pytest.mark.parametrize(
    "text", ["plain ascii", "héllo wörld", "日本語のテキスト", "emoji 🙂🚀 end"]
)
def test_deltas_and_finish_rebuild_the_text(text: str) -> None:
    """Without stop strings, the concatenated deltas plus finish() equal the decoded text."""
    stream, deltas = _stream(text)
    tail = stream.finish()
    assert "".join(deltas) + tail == text
    assert stream.text == text and not stream.stopped and stream.matched_stop is None


def test_split_multibyte_character_is_held_back() -> None:
    """A character split over tokens is emitted whole once its last byte arrives."""
    stream = TextStream(ByteTokenizer(), ())
    first, second, third, fourth = "🙂".encode()
    assert [stream.push(first), stream.push(second), stream.push(third)] == ["", "", ""]
    assert stream.push(fourth) == "🙂"
    assert "\ufffd" not in stream.text


def test_incomplete_character_is_flushed_on_finish() -> None:
    """An output cut inside a character flushes as U+FFFD on finish()."""
    stream = TextStream(ByteTokenizer(), ())
    assert stream.push(ord("a")) == "a"
    assert stream.push("é".encode()[0]) == ""
    assert stream.finish() == "\ufffd"


def test_stop_string_spanning_tokens_is_cut() -> None:
    """A stop string arriving over several tokens is never emitted, nor is what follows it."""
    stream, deltas = _stream("Hello END world", stop=("END",))
    assert stream.stopped and stream.matched_stop == "END"
    assert "".join(deltas) == stream.text == "Hello "
    assert stream.finish() == ""


def test_possible_stop_prefix_is_held_then_released() -> None:
    """Text that may start a stop string is held, and released when it turns out not to."""
    stream = TextStream(ByteTokenizer(), ("</s>",))
    assert [stream.push(b) for b in b"a</"] == ["a", "", ""]
    assert stream.push(ord("x")) == "</x"
    assert stream.text == "a</x"


def test_stop_at_the_first_token() -> None:
    """A one-character stop string as the first token stops with empty text."""
    stream = TextStream(ByteTokenizer(), ("\n",))
    assert stream.push(ord("\n")) == ""
    assert stream.stopped and stream.text == "" and stream.matched_stop == "\n"


def test_push_after_stop_raises() -> None:
    """Pushing to a stopped stream raises RuntimeError and emits nothing more."""
    stream, _ = _stream("ab", stop=("a",))
    with pytest.raises(RuntimeError, match="stopped"):
        stream.push(ord("c"))
    assert stream.text == ""


def test_push_after_finish_raises() -> None:
    """Pushing after finish() raises RuntimeError."""
    stream, _ = _stream("ab")
    stream.finish()
    with pytest.raises(RuntimeError, match="finished"):
        stream.push(ord("c"))
    assert stream.text == "ab"


def test_earliest_of_several_stops_wins() -> None:
    """With several stop strings, the one that starts first cuts the text."""
    stream, _ = _stream("one two three", stop=("three", "two", "wo t"))
    assert stream.matched_stop == "two" and stream.text == "one "


def test_multibyte_stop_string() -> None:
    """A stop string of multi-byte characters matches once its bytes are complete."""
    stream, deltas = _stream("abc→def", stop=("→",))
    assert stream.stopped and "".join(deltas) == "abc"


def test_unmatched_prefix_is_flushed_on_finish() -> None:
    """A held tail that never completes its stop string is emitted by finish()."""
    stream, deltas = _stream("value: EN", stop=("END",))
    assert "".join(deltas) == "value: "
    assert stream.finish() == "EN" and not stream.stopped


def test_empty_stop_string_is_refused() -> None:
    """An empty stop string raises ValueError."""
    with pytest.raises(ValueError, match="non-empty"):
        TextStream(ByteTokenizer(), ("",))
