"""Incremental detokenization of one request's output, cut at the first stop string.

Each `push` decodes only a short window of ids (vLLM's prefix/read-offset technique): the ids
from `prefix_offset` on, minus the text of the ids [prefix_offset, read_offset) decoded the same
way, gives the text the new ids add in context (a tokenizer may strip a leading space from the
first id it decodes, so both decodes start at the same id). Once that new text ends on a complete
character, the offsets move up to it, so a push decodes O(1) ids amortized instead of the whole
output. It emits only text that can no longer change: a tail ending in U+FFFD (a multi-byte
character still cut off) is held back, and so is the longest tail that is a proper prefix of a
stop string, so a streaming client never receives text that later turns out to belong to a stop
string. As in OpenAI's API, the stop string itself is never emitted. The deltas are the same as
those of decoding the whole output on every push (a property test checks it).
"""

from __future__ import annotations

from runtime.model.tokenizer import Tokenizer

_REPLACEMENT = "\ufffd"  # what decoding yields for an incomplete UTF-8 sequence


class TextStream:
    """Turns one request's token ids into text deltas, stopping at the first stop string.

    `text` is everything emitted so far; once `stopped`, it ends right before the stop string
    `matched_stop`. `push` after a stop or after `finish` raises RuntimeError.
    """

    def __init__(self, tokenizer: Tokenizer, stop: tuple[str, ...]) -> None:
        if any(not s for s in stop):
            raise ValueError(f"stop strings must be non-empty, got {stop!r}")
        self._tokenizer = tokenizer
        self._stop = tuple(stop)
        self._max_held = max((len(s) for s in self._stop), default=1) - 1
        self._ids: list[int] = []
        self._is_finished = False
        self._parts: list[str] = []  # the emitted deltas: joined on demand, never re-copied
        self.stopped = False
        self.matched_stop: str | None = None
        # The window: ids [prefix_offset, read_offset) are settled context whose text,
        # `_prefix_text`, ends on a complete character; `_base` is settled text not yet emitted,
        # `_ahead` the characters of the unsettled tail already emitted (one of them is empty).
        self._prefix_offset = self._read_offset = 0
        self._prefix_text = ""
        self._base = ""
        self._ahead = 0
        self._tail = ""  # the unsettled ids' text as of the last push

    def push(self, token_id: int) -> str:
        """Append `token_id`; return the newly safe text, possibly "".

        Sets `stopped` and `matched_stop` when a stop string completes; the returned text then
        ends right before it. Raises RuntimeError once stopped or finished.
        """
        if self.stopped or self._is_finished:
            state = "stopped" if self.stopped else "finished"
            raise RuntimeError(f"push({token_id}) on a text stream that is already {state}")
        self._ids.append(token_id)
        self._tail = self._tokenizer.decode(self._ids[self._prefix_offset :])[
            len(self._prefix_text) :
        ]
        window = (self._base + self._tail)[self._ahead :]  # all the text not yet emitted
        stop_at = self._find_stop(window)
        delta = window[:stop_at] if stop_at is not None else self._safe_prefix(window)
        self._advance(window, len(delta))
        return self._emit(delta)

    def finish(self) -> str:
        """Flush the text held back and return it; "" when stopped or already finished."""
        if self.stopped or self._is_finished:
            self._is_finished = True
            return ""
        self._is_finished = True
        return self._emit((self._base + self._tail)[self._ahead :])

    @property
    def text(self) -> str:
        """Everything emitted so far."""
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def _emit(self, delta: str) -> str:
        if delta:
            self._parts.append(delta)
        return delta

    def _advance(self, window: str, emitted: int) -> None:
        """Records `emitted` characters of `window` as sent, and settles the tail once it ends
        on a complete character."""
        if not self._tail.endswith(_REPLACEMENT):
            settled = self._tokenizer.decode(self._ids[self._read_offset :])
            # NOTE: ids that decode to nothing (skipped specials) give no context: a decoder
            # that strips the first id's leading space would strip the next id's instead.
            if settled:
                self._prefix_offset, self._prefix_text = self._read_offset, settled
            else:
                self._prefix_text = self._tokenizer.decode(self._ids[self._prefix_offset :])
            self._read_offset = len(self._ids)
            self._base, self._ahead, self._tail = window[emitted:], 0, ""
        elif emitted <= len(self._base):
            self._base = self._base[emitted:]
        else:
            self._ahead += emitted - len(self._base)
            self._base = ""

    def _find_stop(self, window: str) -> int | None:
        """Start of the earliest stop string in `window` (the longest one on a tie), or None.

        Sets `stopped` and `matched_stop` when one is found. Only the text not yet emitted is
        searched: a stop string starting earlier would have been held back, not emitted.
        """
        best: tuple[int, int] | None = None  # (start, -length)
        for s in self._stop:
            start = window.find(s)
            if start >= 0 and (best is None or (start, -len(s)) < best):
                best, self.matched_stop = (start, -len(s)), s
        if best is None:
            return None
        self.stopped = True
        return best[0]

    def _safe_prefix(self, window: str) -> str:
        """`window` without a trailing incomplete character or a tail that may start a stop.
        A held tail never reaches into emitted text: that text was the longest safe prefix."""
        text = window.rstrip(_REPLACEMENT)
        for length in range(min(len(text), self._max_held), 0, -1):
            tail = text[-length:]
            if any(s.startswith(tail) for s in self._stop):
                return text[:-length]
        return text
