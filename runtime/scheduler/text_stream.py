"""Incremental detokenization of one request's output, cut at the first stop string.

Each `push` decodes the whole output so far (outputs are short) and emits only text that can no
longer change: a tail ending in U+FFFD (a multi-byte character still cut off) is held back, and
so is the longest tail that is a proper prefix of a stop string, so a streaming client never
receives text that later turns out to belong to a stop string. As in OpenAI's API, the stop
string itself is never emitted.
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
        self._ids: list[int] = []
        self._is_finished = False
        self.text = ""
        self.stopped = False
        self.matched_stop: str | None = None

    def push(self, token_id: int) -> str:
        """Append `token_id`; return the newly safe text, possibly "".

        Sets `stopped` and `matched_stop` when a stop string completes; the returned text then
        ends right before it. Raises RuntimeError once stopped or finished.
        """
        if self.stopped or self._is_finished:
            state = "stopped" if self.stopped else "finished"
            raise RuntimeError(f"push({token_id}) on a text stream that is already {state}")
        self._ids.append(token_id)
        decoded = self._tokenizer.decode(self._ids)
        stop_at = self._find_stop(decoded)
        if stop_at is not None:
            return self._emit(decoded[:stop_at])
        return self._emit(self._safe_prefix(decoded))

    def finish(self) -> str:
        """Flush the text held back and return it; "" when stopped or already finished."""
        if self.stopped or self._is_finished:
            self._is_finished = True
            return ""
        self._is_finished = True
        return self._emit(self._tokenizer.decode(self._ids))

    def _emit(self, upto: str) -> str:
        # NOTE: assumes decoding is prefix-stable apart from the held tail (true of byte-level
        # BPE); if an earlier part changes anyway, only the text past what was emitted is sent.
        delta = upto[len(self.text) :]
        self.text += delta
        return delta

    def _find_stop(self, decoded: str) -> int | None:
        """Start of the earliest stop string in `decoded` (the longest one on a tie), or None.

        Sets `stopped` and `matched_stop` when one is found. The search starts at the end of the
        emitted text: a stop string starting earlier would have been held back, not emitted.
        """
        best: tuple[int, int] | None = None  # (start, -length)
        for s in self._stop:
            start = decoded.find(s, len(self.text))
            if start >= 0 and (best is None or (start, -len(s)) < best):
                best, self.matched_stop = (start, -len(s)), s
        if best is None:
            return None
        self.stopped = True
        return best[0]

    def _safe_prefix(self, decoded: str) -> str:
        """`decoded` without a trailing incomplete character or a tail that may start a stop."""
        text = decoded.rstrip(_REPLACEMENT)
        for length in range(min(len(text), self._max_held()), 0, -1):
            tail = text[-length:]
            if any(s.startswith(tail) for s in self._stop):
                return text[:-length]
        return text

    def _max_held(self) -> int:
        return max((len(s) for s in self._stop), default=1) - 1
