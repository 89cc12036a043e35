"""`poolscope_hybrid`: our built-in default. NemotronH's block stack (Mamba2, relu² MLP, pre-norm
residuals) plus sliding-window attention, with RoPE on both attention kinds, so that the full, swa
and mamba pools are all live. Same weight names as NemotronH (`backbone.`).
"""

from __future__ import annotations

from dataclasses import replace

from runtime.model.architectures.nemotron_h import build as nemotron_build
from runtime.model.architectures.nemotron_h import checkpoint_name as nemotron_checkpoint_name
from runtime.model.architectures.nemotron_h import parse_config as parse_nemotron_config
from runtime.model.config import FULL_ATTENTION, SLIDING_ATTENTION, ConfigError, ModelConfig

MODEL_TYPE = "poolscope_hybrid"
DEFAULT_THETA = 10_000.0


def parse_config(raw: dict) -> ModelConfig:
    """Our config.json: NemotronH's keys plus `sliding_window` and per-kind `rope_theta`."""
    theta = raw.get("rope_theta") or {}
    if not isinstance(theta, dict):
        raise ConfigError("poolscope_hybrid 'rope_theta' must map each attention kind to its base")
    nemo = parse_nemotron_config(raw, {SLIDING_ATTENTION: SLIDING_ATTENTION})
    attention = replace(
        nemo.attention,
        rope_theta={
            k: float(theta.get(k, DEFAULT_THETA)) for k in (FULL_ATTENTION, SLIDING_ATTENTION)
        },
    )
    return replace(nemo, model_type=MODEL_TYPE, attention=attention)


build = nemotron_build
checkpoint_name = nemotron_checkpoint_name
