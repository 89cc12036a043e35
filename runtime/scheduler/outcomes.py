"""The torch-free enums a step's and a request's records name: the step phase and how a request
ended (the engine's records import them without loading the scheduler's tensors)."""

from __future__ import annotations

from enum import Enum


class Phase(Enum):
    PREFILL = "prefill"
    DECODE = "decode"


class FinishReason(Enum):
    """OpenAI's finish reasons, plus `abort` (client gone, session closed, or out of memory)."""

    STOP = "stop"
    LENGTH = "length"
    ABORT = "abort"
