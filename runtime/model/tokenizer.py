"""Tokenizers for poolscope models: a model directory's `tokenizer.json`, or a byte-level fallback.

`load_tokenizer(model_dir, bos_token_id=..., eos_token_ids=..., vocab_size=...)` takes the ids
from the model's `config.json`. With a `tokenizer.json` beside it, the HF `tokenizers` library
reads it; otherwise ids 0..255 are UTF-8 bytes and 256..258 are BOS, EOS and PAD (`ByteTokenizer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import tokenizers

TOKENIZER_FILE = "tokenizer.json"


@runtime_checkable
class Tokenizer(Protocol):
    """Turns text into the model's token ids and back; decoding drops special tokens."""

    @property
    def vocab_size(self) -> int:
        """Number of ids this tokenizer can produce."""
        ...

    @property
    def bos_token_id(self) -> int | None:
        """Id that starts a sequence, or None when the model uses none."""
        ...

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        """Ids that end generation."""
        ...

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, without special tokens."""
        ...

    def decode(self, ids: Sequence[int]) -> str:
        """Text of `ids`, special tokens skipped."""
        ...


class ByteTokenizer:
    """UTF-8 bytes as ids 0..255, then BOS, EOS and PAD; needs a model vocab of at least 259."""

    NUM_BYTES: ClassVar[int] = 256
    BOS_ID: ClassVar[int] = 256
    EOS_ID: ClassVar[int] = 257
    PAD_ID: ClassVar[int] = 258
    VOCAB_SIZE: ClassVar[int] = 259

    def __init__(
        self, eos_token_ids: tuple[int, ...] | None = None, bos_token_id: int | None = BOS_ID
    ) -> None:
        # A model's config.json may name other eos ids than EOS_ID; an empty override means default.
        self._eos_token_ids = tuple(eos_token_ids) if eos_token_ids else (self.EOS_ID,)
        self._bos_token_id = bos_token_id

    @property
    def vocab_size(self) -> int:
        return self.VOCAB_SIZE

    @property
    def bos_token_id(self) -> int | None:
        return self._bos_token_id

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        return self._eos_token_ids

    def encode(self, text: str, *, add_special_tokens: bool = False) -> list[int]:
        ids = list(text.encode("utf-8"))
        if add_special_tokens and self._bos_token_id is not None:
            ids.insert(0, self._bos_token_id)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        # NOTE: a multi-byte character cut at the end of `ids` decodes to U+FFFD, never raises.
        data = bytes(i for i in ids if 0 <= i < self.NUM_BYTES)
        return data.decode("utf-8", errors="replace")


class HFTokenizer:
    """A `tokenizers.Tokenizer` (from `tokenizer.json`) with the model's bos and eos ids."""

    def __init__(
        self,
        tokenizer: tokenizers.Tokenizer,
        *,
        bos_token_id: int | None,
        eos_token_ids: tuple[int, ...],
    ) -> None:
        self._tokenizer = tokenizer
        self._bos_token_id = bos_token_id
        self._eos_token_ids = tuple(eos_token_ids)

    @classmethod
    def from_file(
        cls, path: Path, *, bos_token_id: int | None, eos_token_ids: tuple[int, ...]
    ) -> HFTokenizer:
        """Read `path`; raises ValueError naming the file when it is unreadable or malformed."""
        try:
            tokenizer = tokenizers.Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises a bare Exception for malformed files
            raise ValueError(f"cannot read tokenizer file {path}: {exc}") from exc
        return cls(tokenizer, bos_token_id=bos_token_id, eos_token_ids=eos_token_ids)

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    @property
    def bos_token_id(self) -> int | None:
        return self._bos_token_id

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        return self._eos_token_ids

    def encode(self, text: str, *, add_special_tokens: bool = False) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self._tokenizer.decode(list(ids), skip_special_tokens=True)


def load_tokenizer(
    model_dir: Path,
    *,
    bos_token_id: int | None,
    eos_token_ids: tuple[int, ...],
    vocab_size: int,
) -> Tokenizer:
    """The tokenizer of `model_dir`: its `tokenizer.json` if present, else `ByteTokenizer`.

    Raises ValueError when `tokenizer.json` cannot be read, or when the byte tokenizer is needed
    but the model's `vocab_size` is below `ByteTokenizer.VOCAB_SIZE`.
    """
    path = Path(model_dir) / TOKENIZER_FILE
    if path.is_file():
        return HFTokenizer.from_file(path, bos_token_id=bos_token_id, eos_token_ids=eos_token_ids)
    if vocab_size < ByteTokenizer.VOCAB_SIZE:
        raise ValueError(
            f"{model_dir} has no {TOKENIZER_FILE}, and the byte tokenizer's ids (0.."
            f"{ByteTokenizer.VOCAB_SIZE - 1}) do not fit the model's vocab_size {vocab_size}"
        )
    bos = bos_token_id if bos_token_id is not None else ByteTokenizer.BOS_ID
    return ByteTokenizer(eos_token_ids=eos_token_ids or None, bos_token_id=bos)
