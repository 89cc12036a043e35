"""Splitting an extend batch into consecutive runs of requests so that the padded ops (attention,
the mamba conv and scan) pay for little padding.

A prefill step packs chunks of very different lengths: the mixed benchmark's steps look like
[509, 3] or [40, 366, 106], and padding every request to the longest did 1.77 padded positions
per real token. Linear layers run on the flat tokens and never pad; only the per-request ops
run part by part, which costs one more small op per part and layer.
"""

from __future__ import annotations

import itertools

MAX_PADDING = 1.25  # padded positions (requests x longest) per real token a part may reach


def split_points(extend: list[int], max_padding: float = MAX_PADDING) -> list[tuple[int, int]]:
    """Consecutive [start, end) request ranges covering `extend` in order. Greedy: a request
    joins the current part while the part's padded size stays within `max_padding` times its
    tokens, else it starts the next part."""
    parts: list[tuple[int, int]] = []
    start, longest, tokens = 0, 0, 0
    for i, n in enumerate(extend):
        longest, tokens = max(longest, n), tokens + n
        if i > start and (i - start + 1) * longest > max_padding * tokens:
            parts.append((start, i))
            start, longest, tokens = i, n, n
    parts.append((start, len(extend)))
    return parts


# A part costs a few more small ops per attention layer (a gather, the mask, SDPA, a scatter):
# a cut must save at least this many padded key positions (about 1 MB of K/V to gather at the
# benchmark's 2 KV heads x 64 dims in fp32, well above those ops' cost).
MIN_KEYS_SAVED = 2048
MAX_KEY_PARTS = 3


def key_groups(lengths: list[int]) -> list[list[int]] | None:
    """Request indices grouped by key length for a decode batch, or None to keep it whole.

    A decode batch pads every request's keys to the longest context: with contexts from 16 to
    768 tokens (the mixed benchmark) the full-attention layers gathered 1.75 key positions per
    real one. Sorted by length, the batch is cut where that saves the most, at most
    MAX_KEY_PARTS groups, and a cut only when it saves MIN_KEYS_SAVED positions.
    """
    total = sum(lengths)
    if len(lengths) < 2 or len(lengths) * max(lengths) <= MAX_PADDING * total:
        return None
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    keys = [lengths[i] for i in order]
    bounds = [0, len(keys)]
    while len(bounds) <= MAX_KEY_PARTS:
        saved, cut = max(_best_cut(keys, lo, hi) for lo, hi in itertools.pairwise(bounds))
        if saved < MIN_KEYS_SAVED:  # NOTE: read here, so a test may lower it
            break
        bounds = sorted([*bounds, cut])
    if len(bounds) == 2:
        return None
    return [order[lo:hi] for lo, hi in itertools.pairwise(bounds)]


def _best_cut(keys: list[int], lo: int, hi: int) -> tuple[int, int]:
    """(padded positions saved, index) of the best single cut of sorted keys[lo:hi]."""
    whole = (hi - lo) * keys[hi - 1]
    best = (0, lo)
    for cut in range(lo + 1, hi):
        saved = whole - (cut - lo) * keys[cut - 1] - (hi - cut) * keys[hi - 1]
        best = max(best, (saved, cut))
    return best
