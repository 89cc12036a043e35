"""The architectures poolscope can load, by HF `model_type`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runtime.model.architectures import gemma3, nemotron_h, poolscope_hybrid
from runtime.model.causal_lm import CausalLM
from runtime.model.config import ModelConfig


@dataclass(frozen=True)
class Architecture:
    """How to read one `model_type`: its config, its module tree, and its checkpoint name quirks."""

    parse_config: Callable[[dict], ModelConfig]
    build: Callable[[ModelConfig], CausalLM]
    checkpoint_name: Callable[[str], str]


ARCHITECTURES: dict[str, Architecture] = {
    "nemotron_h": Architecture(
        nemotron_h.parse_config, nemotron_h.build, nemotron_h.checkpoint_name
    ),
    "gemma3_text": Architecture(gemma3.parse_config, gemma3.build, gemma3.checkpoint_name),
    poolscope_hybrid.MODEL_TYPE: Architecture(
        poolscope_hybrid.parse_config, poolscope_hybrid.build, poolscope_hybrid.checkpoint_name
    ),
}

__all__ = ["ARCHITECTURES", "Architecture"]
