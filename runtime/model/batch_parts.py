"""Splitting an extend batch into consecutive runs of requests so that the padded ops (attention,
the mamba conv and scan) pay for little padding.

A prefill step packs chunks of very different lengths: the mixed benchmark's steps look like
[509, 3] or [40, 366, 106], and padding every request to the longest did 1.77 padded positions
per real token. Linear layers run on the flat tokens and never pad; only the per-request ops
run part by part, which costs one more small op per part and layer.
"""

from __future__ import annotations

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
