"""SGLang's leak messages: which pool a message names, its `[pool]` sections, and the lines that
continue it.

Forms (from SGLang's checker, 2024–2026), each possibly after a log prefix, a Python warning
(`/path/file.py:12: UserWarning: `) or an exception name (`ValueError: `, `AssertionError: `):

    Warning: available_size=.., max_total_num_tokens=..  +  KV cache pool leak detected!
    KV cache pool leak detected!available_size=.., self.max_total_num_tokens=..
    Memory pool leak detected!available_size=.., total_size=..          (the request pool)
    token_to_kv_pool_allocator memory leak detected! self.max_total_num_tokens=.., available_size=..
    token_to_kv_pool_allocator memory leak detected! self.full_tokens_per_layer=.., ...
      self.swa_tokens_per_layer=.., swa_available_size=.., ...          (next line)
    token_to_kv_pool_allocator memory leak detected! full_available_size=.., ...
      mamba_available_size=.., ..., leaked_full_pages=.., leaked_mamba_pages={..}   (next line)
    req_to_token_pool memory leak detected!available_size=.., session_held=.., total_size=..
    pool memory leak detected! [full] total=.., available=.., ...
      [swa] total=.., ...                                               (next lines)
      [mamba] total=.., ..., leaked_full_pages=.., leaked_mamba_pages=..
    Mem Leak Detected! total_tokens=.. vs self.max_total_num_tokens=..  (busy check)
    Full Pool Mem Leak Detected! [full] total=.., ...   /   SWA Pool Mem Leak Detected! [swa] ..

A `[pool]` section's keys get the pool's prefix (`[swa] total=64` → `swa_total`) unless they
name a pool already, so that one record keeps every pool's terms apart
(`telemetry.logs.leak_terms`).
A continuation line has no log prefix and starts with a `key=value` pair or a `[pool]` section.
"""

from __future__ import annotations

import re

from telemetry import catalog
from telemetry.logs.record import FieldValue
from telemetry.logs.text_values import scan_pairs

HEADER = r"(?i:leak detected!)"
_SECTION = re.compile(rf"\[({'|'.join(catalog.POOLS)})\][ \t]*")
_CONTINUATION = re.compile(
    rf"(?:\[(?:{'|'.join(catalog.POOLS)})\][ \t]+)?[A-Za-z_][\w.]*(?:\(\))?[ \t]*="
)
_HAS_HEADER = re.compile(HEADER)
_POOL_PREFIXES = tuple(f"{pool}_" for pool in catalog.POOLS)
# Allocator or pool name (lower case, without `_` and spaces) → pool; the first hit wins.
_POOL_HINTS = (
    ("mamba", "mamba"), ("swa", "swa"), ("reqtotoken", "req"), ("memorypool", "req"),
    ("host", "host"), ("tokentokv", "full"), ("kvcache", "full"), ("fullpool", "full"),
)
_BRACKETS = re.compile(r"\[[^\[\]]*\]")


def message_fields(line: str, pos: int, head: str, word: str | None) -> dict[str, FieldValue]:
    """The fields of a leak message whose text after the header starts at `pos`: `pool` (a
    bare `[word]` before it, a pool named in `head`, else the first `[pool]` section), then its
    pairs, sections prefixed."""
    pool = word if word in catalog.POOLS else infer_pool(head)
    pairs, first_section = section_pairs(line, pos)
    pool = pool or first_section
    return {"pool": pool, **pairs} if pool else pairs


def section_pairs(text: str, pos: int = 0) -> tuple[dict[str, FieldValue], str | None]:
    """The pairs of `text[pos:]`, those after a `[pool]` mark prefixed with its pool, and the
    first section's pool (None without sections)."""
    marks = list(_SECTION.finditer(text, pos))
    if not marks:
        return scan_pairs(text, pos), None
    pairs = scan_pairs(text[: marks[0].start()], pos) if marks[0].start() > pos else {}
    for mark, after in zip(marks, [*marks[1:], None], strict=True):
        end = after.start() if after is not None else len(text)
        pairs.update(_prefixed(scan_pairs(text[mark.end() : end]), mark.group(1)))
    return pairs, marks[0].group(1)


def read_continuation(line: str) -> dict[str, FieldValue] | None:
    """The pairs of a line that continues a leak message (`mamba_available_size=3, …`,
    `self.swa_tokens_per_layer=…`, `[swa] total=…`), or None when the line is no continuation."""
    if _CONTINUATION.match(line) is None or _HAS_HEADER.search(line) is not None:
        return None
    pairs, _ = section_pairs(line)
    return pairs or None


def infer_pool(head: str) -> str | None:
    """The pool a leak message names before its header (`token_to_kv_pool_allocator memory`,
    `Mamba memory`, `SWA Pool Mem`), if it names one; log prefixes, file paths and exception
    names before the message are passed over."""
    text = _BRACKETS.sub("", head).rpartition(": ")[2]
    text = text.lower().replace("_", "").replace(" ", "")
    for hint, pool in _POOL_HINTS:
        if hint in text:
            return pool
    return None


def _prefixed(pairs: dict[str, FieldValue], pool: str) -> dict[str, FieldValue]:
    return {
        key if key.startswith(_POOL_PREFIXES) else f"{pool}_{key}": value
        for key, value in pairs.items()
    }
