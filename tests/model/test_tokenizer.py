"""Tests for runtime.model.tokenizer: byte fallback, tokenizer.json loading, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer as RawTokenizer
from tokenizers import models, pre_tokenizers, processors

from runtime.model.tokenizer import (
    ByteTokenizer,
    HFTokenizer,
    Tokenizer,
    load_tokenizer,
)

WORDS = {"[UNK]": 0, "<s>": 1, "</s>": 2, "hello": 3, "world": 4}


def _save_word_level(path: Path) -> Path:
    """Write a tiny WordLevel tokenizer.json with <s>/</s> specials and a BOS template."""
    raw = RawTokenizer(models.WordLevel(WORDS, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.add_special_tokens(["<s>", "</s>"])
    raw.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    file = path / "tokenizer.json"
    raw.save(str(file))
    return file


def test_byte_round_trip_unicode() -> None:
    """Unicode text encodes to UTF-8 byte ids and decodes back unchanged."""
    tok = ByteTokenizer()
    text = "naïve café — 東京 🚀"
    ids = tok.encode(text)
    assert ids == list(text.encode("utf-8"))
    assert tok.decode(ids) == text


def test_byte_specials_skipped_on_decode() -> None:
    """BOS, EOS, PAD and ids past the byte range are dropped when decoding."""
    tok = ByteTokenizer()
    ids = [tok.BOS_ID, *tok.encode("hi"), tok.PAD_ID, tok.EOS_ID, 300]
    assert tok.decode(ids) == "hi"
    assert tok.encode("hi", add_special_tokens=True)[0] == tok.BOS_ID


def test_byte_invalid_utf8_replaced() -> None:
    """Invalid or truncated UTF-8 bytes decode to U+FFFD instead of raising."""
    tok = ByteTokenizer()
    truncated = list("é".encode())[:1]
    assert tok.decode([0xFF, *tok.encode("a"), *truncated]) == "\ufffda\ufffd"


def test_byte_eos_override() -> None:
    """An eos override replaces the default EOS id, and an empty one keeps it."""
    assert ByteTokenizer(eos_token_ids=(7, 9)).eos_token_ids == (7, 9)
    assert ByteTokenizer(eos_token_ids=()).eos_token_ids == (ByteTokenizer.EOS_ID,)


def test_load_uses_tokenizer_json(tmp_path: Path) -> None:
    """A tokenizer.json is used, adds no specials unless asked, and skips them on decode."""
    _save_word_level(tmp_path)
    tok = load_tokenizer(tmp_path, bos_token_id=1, eos_token_ids=(2,), vocab_size=5)
    assert isinstance(tok, HFTokenizer)
    assert isinstance(tok, Tokenizer)
    assert tok.encode("hello world") == [3, 4]
    assert tok.encode("hello", add_special_tokens=True) == [1, 3]
    assert tok.decode([1, 3, 4, 2]) == "hello world"
    assert (tok.vocab_size, tok.bos_token_id, tok.eos_token_ids) == (5, 1, (2,))


def test_load_falls_back_to_bytes(tmp_path: Path) -> None:
    """A model dir without tokenizer.json gets the byte tokenizer with config's or default eos."""
    tok = load_tokenizer(tmp_path, bos_token_id=None, eos_token_ids=(), vocab_size=320)
    assert isinstance(tok, ByteTokenizer)
    assert tok.eos_token_ids == (ByteTokenizer.EOS_ID,)
    assert tok.bos_token_id == ByteTokenizer.BOS_ID
    named = load_tokenizer(tmp_path, bos_token_id=256, eos_token_ids=(257, 258), vocab_size=259)
    assert named.eos_token_ids == (257, 258)


def test_load_rejects_vocab_too_small_for_bytes(tmp_path: Path) -> None:
    """The byte fallback refuses a model vocab smaller than its 259 ids."""
    with pytest.raises(ValueError, match="vocab_size 100"):
        load_tokenizer(tmp_path, bos_token_id=None, eos_token_ids=(), vocab_size=100)


def test_load_rejects_corrupt_tokenizer_json(tmp_path: Path) -> None:
    """An unreadable tokenizer.json raises ValueError naming the file."""
    (tmp_path / "tokenizer.json").write_text('{"model": ')
    with pytest.raises(ValueError, match="tokenizer.json"):
        load_tokenizer(tmp_path, bos_token_id=None, eos_token_ids=(), vocab_size=1000)
