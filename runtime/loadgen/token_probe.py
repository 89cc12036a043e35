"""Measures the served model's TokenScale with two probe completions (see `token_scale`).

Kept apart from `token_scale` so that the scale (which the workload uses) does not import the
client (which imports the workload).
"""

from __future__ import annotations

import random

from runtime.loadgen.client import CompletionClient
from runtime.loadgen.token_scale import TokenScale
from runtime.loadgen.words import draw_words
from runtime.loadgen.workload import RequestSpec

PROBE_WORDS = (32, 128)
PROBE_SEED = "token-probe"


async def measure(client: CompletionClient) -> TokenScale:
    """The served model's scale from two probe requests of `PROBE_WORDS` words; the unmeasured
    scale when either fails or carries no `usage`."""
    rng = random.Random(PROBE_SEED)
    counts: list[int] = []
    for num_words in PROBE_WORDS:
        spec = RequestSpec(draw_words(rng, num_words), num_words, max_tokens=1)
        record = await client.complete(spec)
        if not record.is_ok or record.prompt_tokens is None:
            return TokenScale()
        counts.append(record.prompt_tokens)
    (w1, w2), (t1, t2) = PROBE_WORDS, counts
    slope = (t2 - t1) / (w2 - w1)
    if slope <= 0:
        return TokenScale()
    return TokenScale(tokens_per_word=slope, base_tokens=max(0.0, t1 - slope * w1),
                      is_measured=True)
