"""How much padding the padded ops do over one run of a workload, whole batches against parts.

Attention and the mamba conv and scan pad each request of a batch to the batch's longest: the
queries of an extend (prefill) step, the keys of a decode step. The engine runs them part by part
(`runtime/model/batch_parts.py`); this tallies, over every step of a real run, the padded positions
per real one both ways. The full-attention (no window) keys are counted, the widest case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.engine.engine import Engine
from runtime.model.forward_batch import ForwardBatch, ForwardMode


@dataclass
class Padding:
    """Real and padded positions, whole batches and in parts, for prefill queries and decode
    keys."""

    prefill_real: int = 0
    prefill_whole: int = 0
    prefill_parts: int = 0
    decode_real: int = 0
    decode_whole: int = 0
    decode_parts: int = 0

    def add(self, batch: ForwardBatch) -> None:
        """Counts one batch, in the parts the model itself runs it in (the batch's own memo)."""
        if batch.mode is ForwardMode.EXTEND:
            self.prefill_real += sum(batch.extend_list)
            self.prefill_whole += batch.batch_size * batch.max_extend
            self.prefill_parts += sum(part.batch_size * part.max_extend
                                      for _, part in batch.parts())
            return
        self.decode_real += sum(batch.prefix_list) + batch.batch_size
        self.decode_whole += _padded_keys(batch)
        self.decode_parts += sum(_padded_keys(part) for _, part in batch.key_parts(None))

    def per_token(self) -> dict[str, float]:
        """Padded positions per real one (1.0: no padding)."""
        def ratio(padded: int, real: int) -> float:
            return padded / real if real else 1.0

        return {
            "prefill padded/token whole": ratio(self.prefill_whole, self.prefill_real),
            "prefill padded/token parts": ratio(self.prefill_parts, self.prefill_real),
            "decode keys padded/token whole": ratio(self.decode_whole, self.decode_real),
            "decode keys padded/token groups": ratio(self.decode_parts, self.decode_real),
        }


def _padded_keys(batch: ForwardBatch) -> int:
    """Key positions a decode batch gathers without a window: each request padded to the
    longest context."""
    return batch.batch_size * (max(batch.prefix_list) + 1)


class _Tallied:
    """The runner's model, adding each batch it runs to a Padding."""

    def __init__(self, model: Any, padding: Padding) -> None:
        self.model, self.padding = model, padding

    def __call__(self, batch: ForwardBatch, *args: Any, **kwargs: Any) -> Any:
        self.padding.add(batch)
        return self.model(batch, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def run_tallied(engine: Engine) -> Padding:
    """Steps `engine` until it is idle, tallying the padding of every batch."""
    padding, model = Padding(), engine.runner.model
    engine.runner.model = _Tallied(model, padding)  # type: ignore[assignment]
    try:
        while engine.step():
            pass
    finally:
        engine.runner.model = model
    return padding
