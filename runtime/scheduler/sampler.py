"""Picks one token per batch row from the model's last-position logits.

Per row, in order: repetition penalty, then frequency/presence penalties; greedy rows take the
argmax; the others divide by temperature, keep the top-k, then the top-p nucleus, then drop
tokens under min_p times the top probability, and draw with the row's own generator, so a seeded
request gets the same tokens whatever else shares its batch. Logprobs always describe the RAW
logits, before penalties and filters. Everything stays on `logits.device`; the only host copies
are the small index tensors built from Python lists and the final results.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from runtime.scheduler.sampling_params import SamplingParams

_MAX_TEMPERATURE = 1e30


@dataclass
class SampleRow:
    """One request's row of the batch; `generator` may be None only for greedy rows.

    Token ids in `prompt_ids` and `output_ids` must lie in [0, vocab size of the logits).
    """

    params: SamplingParams
    prompt_ids: Sequence[int]
    output_ids: Sequence[int]
    generator: torch.Generator | None


@dataclass(frozen=True)
class SampledToken:
    """The chosen token, and when asked for, its logprob and the top-N of the raw logits."""

    token_id: int
    logprob: float | None
    top_logprobs: tuple[tuple[int, float], ...]


def make_generator(seed: int | None, device: torch.device) -> torch.Generator:
    """A generator on `device`, seeded with `seed`, or from fresh entropy when it is None."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


class Sampler:
    """Stateless: `sample` reads the rows' params and history and advances their generators."""

    def sample(self, logits: torch.Tensor, rows: Sequence[SampleRow]) -> list[SampledToken]:
        """One token per row of `logits` [B, V]; `logits` itself is never modified.

        Raises ValueError when B differs from len(rows), or a non-greedy row has no generator.
        """
        if logits.dim() != 2 or logits.shape[0] != len(rows):
            raise ValueError(f"logits {tuple(logits.shape)} do not match {len(rows)} rows")
        for row in rows:
            if row.generator is None and not row.params.is_greedy:
                raise ValueError(f"a non-greedy row has no generator: {row.params}")
        raw = logits.float()  # [B, V]; no copy when the logits are fp32 already
        penalized = apply_penalties(raw, rows)  # [B, V]
        # NOTE: one argmax over the whole batch serves every greedy row (all-greedy batches,
        # the common case, need nothing else); only the drawn rows are gathered and drawn.
        drawn = [i for i, row in enumerate(rows) if not row.params.is_greedy]
        if len(drawn) == len(rows):
            return _results(raw, _draw(penalized, rows), rows)
        tokens = penalized.argmax(dim=-1)  # [B]
        if drawn:
            index = _index(drawn, raw.device)
            tokens[index] = _draw(penalized[index], [rows[i] for i in drawn])
        return _results(raw, tokens, rows)


def _index(values: Sequence[int], device: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.long, device=device)


def _flat_ids(
    id_lists: Sequence[Sequence[int]], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """(row, token) index pairs for scattering each list's ids into row i of a [P, V] tensor."""
    lengths = [len(ids) for ids in id_lists]
    rows = torch.arange(len(id_lists), device=device)  # [P]
    # NOTE: output_size spares a device-to-host sync on CUDA.
    rows = rows.repeat_interleave(_index(lengths, device), output_size=sum(lengths))  # [N]
    return rows, _index(list(itertools.chain.from_iterable(id_lists)), device)  # [N], [N]


def apply_penalties(raw: torch.Tensor, rows: Sequence[SampleRow]) -> torch.Tensor:
    """`raw` [B, V] float with each row's penalties applied, for the rows that have any.

    Returns `raw` itself when no row has penalties, else a new tensor; `raw` is never modified.
    """
    picked = [i for i, row in enumerate(rows) if row.params.needs_penalties]
    if not picked:
        return raw
    index = _index(picked, raw.device)
    sub = raw[index]  # [P, V], a copy
    sub = _repetition(sub, [rows[i] for i in picked])
    sub = _frequency_presence(sub, [rows[i] for i in picked])
    out = raw.clone()
    out[index] = sub
    return out


def _column(values: Sequence[float], device: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32, device=device)[:, None]  # [R, 1]


def _repetition(sub: torch.Tensor, rows: Sequence[SampleRow]) -> torch.Tensor:
    """HF repetition penalty on `sub` [P, V]: seen tokens' positive logits / p, negative * p."""
    if all(row.params.repetition_penalty == 1.0 for row in rows):
        return sub
    penalty = _column([row.params.repetition_penalty for row in rows], sub.device)  # [P, 1]
    seen = torch.zeros_like(sub, dtype=torch.bool)  # [P, V]
    seen[_flat_ids([[*row.prompt_ids, *row.output_ids] for row in rows], sub.device)] = True
    return torch.where(seen, torch.where(sub > 0, sub / penalty, sub * penalty), sub)


def _frequency_presence(sub: torch.Tensor, rows: Sequence[SampleRow]) -> torch.Tensor:
    """OpenAI penalties on `sub` [P, V] from output-token counts: -= f * count + p * (count > 0)."""
    params = [row.params for row in rows]
    if all(p.frequency_penalty == 0 and p.presence_penalty == 0 for p in params):
        return sub
    counts = torch.zeros_like(sub)  # [P, V]
    out_rows, out_ids = _flat_ids([row.output_ids for row in rows], sub.device)  # [N], [N]
    counts.index_put_((out_rows, out_ids), torch.ones_like(out_ids, dtype=sub.dtype), True)
    frequency = _column([p.frequency_penalty for p in params], sub.device)  # [P, 1]
    presence = _column([p.presence_penalty for p in params], sub.device)  # [P, 1]
    return sub - frequency * counts - presence * (counts > 0).to(sub.dtype)


def _draw(logits: torch.Tensor, rows: Sequence[SampleRow]) -> torch.Tensor:
    """Token ids [S] drawn from the penalized `logits` [S, V] of the non-greedy `rows`."""
    params = [row.params for row in rows]
    # NOTE: shifting by the row max first keeps every scaled logit <= 0 (the top one exactly 0),
    # so no temperature overflows to inf or turns the softmax into NaN; huge temperatures are
    # capped where float32 still holds them (they are uniform sampling long before that).
    temperature = _column([min(p.temperature, _MAX_TEMPERATURE) for p in params], logits.device)
    scaled = (logits - logits.amax(dim=-1, keepdim=True)) / temperature  # [S, V]
    if all(p.top_k == -1 and p.top_p >= 1 and p.min_p == 0 for p in params):
        return _invert_cdf(torch.softmax(scaled, dim=-1), rows)
    sorted_logits, order = scaled.sort(dim=-1, descending=True)  # [S, V], [S, V]
    probs = _filtered_probs(sorted_logits, params)  # [S, V], in sorted order
    position = _invert_cdf(probs, rows)  # [S]
    return order.gather(1, position[:, None]).squeeze(1)  # [S]


def _filtered_probs(sorted_logits: torch.Tensor, params: Sequence[SamplingParams]) -> torch.Tensor:
    """Probabilities of descending `sorted_logits` [S, V] after top-k, top-p, then min-p.

    The top token always survives; removed tokens get probability 0 (not renormalized).
    """
    device, vocab = sorted_logits.device, sorted_logits.shape[-1]
    top_k = _index([vocab if p.top_k == -1 else min(p.top_k, vocab) for p in params], device)
    position = torch.arange(vocab, device=device)  # [V]
    kept = sorted_logits.masked_fill(position[None, :] >= top_k[:, None], float("-inf"))
    probs = torch.softmax(kept, dim=-1)  # [S, V]
    # NOTE: top_p == 1 must keep the whole tail; rounding can push the cumsum past 1.0.
    top_p = torch.tensor([p.top_p if p.top_p < 1 else float("inf") for p in params], device=device)
    mass_before = probs.cumsum(dim=-1) - probs  # [S, V]
    probs = probs.masked_fill(mass_before >= top_p[:, None], 0.0)
    min_p = torch.tensor([p.min_p for p in params], device=device)[:, None]  # [S, 1]
    return probs.masked_fill(probs < min_p * probs[:, :1], 0.0)


def _invert_cdf(probs: torch.Tensor, rows: Sequence[SampleRow]) -> torch.Tensor:
    """Column index [S] drawn from each row of `probs` [S, V] (>= 0, not normalized) with that
    row's generator, by inverting the row's cumulative distribution at one uniform draw.

    One number per row from its own generator keeps a seeded row's draws independent of its
    batch; drawing V exponentials per row (an exponential race) cost ~0.3 ms a row on a CPU.
    Zero-probability columns are never picked: the search takes the first column whose
    cumulative mass exceeds the target, which stays below the row's total.
    """
    device = probs.device
    uniform = torch.cat([
        torch.rand(1, generator=row.generator, device=device, dtype=torch.float64) for row in rows
    ])  # [S]
    cdf = probs.double().cumsum(dim=-1)  # [S, V]
    total = cdf[:, -1:]  # [S, 1]
    target = torch.minimum(uniform[:, None] * total, torch.nextafter(total, total.new_zeros(())))
    return torch.searchsorted(cdf, target, right=True).squeeze(1)  # [S]


def _results(
    raw: torch.Tensor, tokens: torch.Tensor, rows: Sequence[SampleRow]
) -> list[SampledToken]:
    """SampledTokens for `tokens` [B], with logprobs from the raw logits where asked."""
    logprobs = _logprobs(raw, tokens, rows)
    return [
        SampledToken(token_id, *logprobs.get(i, (None, ())))
        for i, token_id in enumerate(tokens.tolist())
    ]


def _logprobs(
    raw: torch.Tensor, tokens: torch.Tensor, rows: Sequence[SampleRow]
) -> dict[int, tuple[float, tuple[tuple[int, float], ...]]]:
    """Row index -> (chosen token's logprob, top-N pairs) for the rows that ask for logprobs."""
    asked = [i for i, row in enumerate(rows) if row.params.logprobs is not None]
    if not asked:
        return {}
    index = _index(asked, raw.device)
    logprobs = torch.log_softmax(raw[index], dim=-1)  # [L, V]
    chosen = logprobs.gather(1, tokens[index][:, None]).squeeze(1).tolist()  # [L]
    counts = [rows[i].params.logprobs or 0 for i in asked]
    top_values, top_ids = logprobs.topk(min(max(counts), raw.shape[-1]), dim=-1)  # [L, N]
    values, ids = top_values.tolist(), top_ids.tolist()
    return {
        i: (chosen[j], tuple(zip(ids[j][:n], values[j][:n], strict=True)))
        for j, (i, n) in enumerate(zip(asked, counts, strict=True))
    }
