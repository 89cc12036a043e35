"""TextStream's windowed decoding: the same deltas as decoding the whole output on every push,
with a bounded number of ids decoded per token."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import tokenizers
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import decoders, models, pre_tokenizers, trainers

from runtime.model.tokenizer import ByteTokenizer, HFTokenizer, Tokenizer
from runtime.scheduler.text_stream import TextStream

_REPLACEMENT = "\ufffd"
_CORPUS = ["héllo wörld, the quick brown fox", "日本語のテキスト と 絵文字 🙂🚀", "a → b ≠ c",
           "    indented code\n\tand tabs", "ünïcödé stop END </s> end"] * 4


class _FullRedecode:
    """The reference: decodes the whole output on every push (the O(n²) way), holding back a
    trailing incomplete character and any tail that may start a stop string."""

    def __init__(self, tokenizer: Tokenizer, stop: tuple[str, ...]) -> None:
        self.tokenizer, self.stop, self.ids, self.text = tokenizer, stop, [], ""
        self.stopped, self.matched_stop = False, None

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        decoded = self.tokenizer.decode(self.ids)
        best = None
        for s in self.stop:
            start = decoded.find(s, len(self.text))
            if start >= 0 and (best is None or (start, -len(s)) < best):
                best, self.matched_stop = (start, -len(s)), s
        if best is not None:
            self.stopped = True
            return self._emit(decoded[: best[0]])
        text = decoded.rstrip(_REPLACEMENT)
        held = max((len(s) for s in self.stop), default=1) - 1
        for length in range(min(len(text), held), 0, -1):
            if any(s.startswith(text[-length:]) for s in self.stop):
                return self._emit(text[:-length])
        return self._emit(text)

    def finish(self) -> str:
        return "" if self.stopped else self._emit(self.tokenizer.decode(self.ids))

    def _emit(self, upto: str) -> str:
        delta = upto[len(self.text) :]
        self.text += delta
        return delta


class _Counting:
    """A tokenizer that counts the ids it is asked to decode."""

    def __init__(self, inner: Tokenizer) -> None:
        self.inner, self.decoded_ids = inner, 0

    def decode(self, ids: Sequence[int]) -> str:
        self.decoded_ids += len(ids)
        return self.inner.decode(ids)


def _hf(kind: str) -> HFTokenizer:
    """A small BPE trained on `_CORPUS`: GPT-2 style byte-level, or sentencepiece-style
    Metaspace (whose decoder strips the leading space of the first id it decodes)."""
    raw = tokenizers.Tokenizer(models.BPE(byte_fallback=kind == "metaspace"))
    if kind == "bytelevel":
        raw.pre_tokenizer, raw.decoder = pre_tokenizers.ByteLevel(), decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        raw.pre_tokenizer = pre_tokenizers.Metaspace()
        raw.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace()])
        alphabet = [f"<0x{b:02X}>" for b in range(256)]
    specials = alphabet if kind == "metaspace" else []
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=alphabet,
                                  special_tokens=specials)
    raw.train_from_iterator(_CORPUS, trainer)
    return HFTokenizer(raw, bos_token_id=None, eos_token_ids=())


_TOKENIZERS = {"bytes": ByteTokenizer(), "bytelevel": _hf("bytelevel"),
               "metaspace": _hf("metaspace")}
_MULTIBYTE = list("é→日🙂".encode())
_STOP_TEXT = st.text(alphabet="ab é→日🙂\n<>/", min_size=1, max_size=4)


def _ids(vocab: int) -> st.SearchStrategy[list[int]]:
    byte_heavy = st.sampled_from(_MULTIBYTE + list(b"ab <>/\n"))
    return st.lists(st.one_of(st.integers(0, vocab - 1), byte_heavy), max_size=60)


def _run(stream: TextStream | _FullRedecode, ids: list[int]) -> list[str]:
    deltas = []
    for token_id in ids:
        if stream.stopped:
            break
        deltas.append(stream.push(token_id))
    deltas.append(stream.finish())
    return deltas


@pytest.mark.parametrize("name", list(_TOKENIZERS))
@settings(max_examples=150, deadline=None)
@given(data=st.data(), stop=st.lists(_STOP_TEXT, max_size=3))
def test_same_deltas_as_full_redecode(name: str, data: st.DataObject, stop: list[str]) -> None:
    """On random ids (multi-byte characters cut anywhere, stop strings) every delta, the stop
    decision and the final text equal those of re-decoding the whole output per token."""
    tokenizer = _TOKENIZERS[name]
    ids = data.draw(_ids(tokenizer.vocab_size))
    stream, reference = TextStream(tokenizer, tuple(stop)), _FullRedecode(tokenizer, tuple(stop))
    assert _run(stream, ids) == _run(reference, ids)
    assert (stream.text, stream.stopped, stream.matched_stop) == (
        reference.text, reference.stopped, reference.matched_stop)


@pytest.mark.parametrize("name", list(_TOKENIZERS))
def test_decoded_ids_per_token_stay_bounded(name: str) -> None:
    """A long output costs a bounded number of decoded ids per token, not the output so far."""
    counting = _Counting(_TOKENIZERS[name])
    ids = _TOKENIZERS[name].encode("héllo wörld, 日本語 🙂 a → b. " * 150)
    stream = TextStream(counting, ("never appears",))  # type: ignore[arg-type]
    _run(stream, ids)
    assert stream.text == _TOKENIZERS[name].decode(ids)
    assert counting.decoded_ids <= 12 * len(ids)
