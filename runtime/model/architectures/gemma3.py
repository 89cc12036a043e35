"""Gemma3 text (`gemma3_text`): sliding-window and full attention with per-kind RoPE bases,
`query_pre_attn_scalar` scaling, q/k norms and four (1 + w) norms per layer. Weights under `model.`.
"""

from __future__ import annotations

import torch
from torch import nn

from runtime.memory.pool_tensors import PoolTensors
from runtime.model.causal_lm import CausalLM, attention_for
from runtime.model.config import (
    FULL_ATTENTION,
    SLIDING_ATTENTION,
    AttentionConfig,
    ConfigError,
    ModelConfig,
    eos_ids,
    positive,
    require,
)
from runtime.model.forward_batch import ForwardBatch
from runtime.model.layers.mlp import GatedMLP
from runtime.model.layers.norm import GemmaRMSNorm

DEFAULT_THETA = {FULL_ATTENTION: 1_000_000.0, SLIDING_ATTENTION: 10_000.0}


def _layer_types(raw: dict) -> tuple[str, ...]:
    layers = int(require(raw, "num_hidden_layers"))
    types = raw.get("layer_types")
    if types is None:
        pattern = int(raw.get("sliding_window_pattern", raw.get("_sliding_window_pattern", 6)))
        if pattern < 1:
            raise ConfigError(f"sliding_window_pattern must be >= 1, got {pattern}")
        types = [SLIDING_ATTENTION if (i + 1) % pattern else FULL_ATTENTION for i in range(layers)]
    if len(types) != layers:
        raise ConfigError(f"layer_types has {len(types)} entries for {layers} layers")
    return tuple(types)


def _rope(raw: dict) -> tuple[dict[str, float], dict[str, float]]:
    """Per-kind (theta, linear factor) from `rope_parameters`, or the legacy top-level keys."""
    params = raw.get("rope_parameters")
    if not params:
        scaling = raw.get("rope_scaling") or {}
        params = {
            FULL_ATTENTION: {
                "rope_theta": raw.get("rope_theta", DEFAULT_THETA[FULL_ATTENTION]),
                **scaling,
            },
            SLIDING_ATTENTION: {
                "rope_theta": raw.get("rope_local_base_freq", DEFAULT_THETA[SLIDING_ATTENTION])
            },
        }
    if not isinstance(params, dict):
        raise ConfigError("rope_parameters must map each attention kind to its parameters")
    theta, factor = {}, {}
    for kind in (FULL_ATTENTION, SLIDING_ATTENTION):
        p = params.get(kind) or {}
        if not isinstance(p, dict):
            raise ConfigError(f"rope_parameters['{kind}'] must be an object")
        rope_type = p.get("rope_type", p.get("type", "default"))
        if rope_type not in ("default", "linear"):
            raise ConfigError(
                f"unsupported rope_type '{rope_type}' for {kind}; supported: default, linear"
            )
        theta[kind] = float(p.get("rope_theta", DEFAULT_THETA[kind]))
        factor[kind] = float(p.get("factor", 1.0)) if rope_type == "linear" else 1.0
    return theta, factor


def parse_config(raw: dict) -> ModelConfig:
    """Gemma3's text config.json -> ModelConfig."""
    if raw.get("use_bidirectional_attention"):
        raise ConfigError("gemma3_text with use_bidirectional_attention is not supported")
    heads = positive(raw, "num_attention_heads")
    theta, factor = _rope(raw)
    pre_attn_scalar = float(raw.get("query_pre_attn_scalar", 256))
    if pre_attn_scalar <= 0:
        raise ConfigError(f"query_pre_attn_scalar must be positive, got {pre_attn_scalar}")
    return ModelConfig(
        model_type="gemma3_text",
        vocab_size=int(require(raw, "vocab_size")),
        hidden_size=int(require(raw, "hidden_size")),
        intermediate_size=int(require(raw, "intermediate_size")),
        layer_types=_layer_types(raw),
        attention=AttentionConfig(
            num_heads=heads,
            num_kv_heads=int(raw.get("num_key_value_heads") or heads),
            head_dim=int(raw.get("head_dim", 256)),
            scaling=pre_attn_scalar**-0.5,
            sliding_window=raw.get("sliding_window", 4096),
            rope_theta=theta,
            rope_factor=factor,
            qk_norm=True,
            bias=bool(raw.get("attention_bias", False)),
        ),
        norm_eps=float(raw.get("rms_norm_eps", 1e-6)),
        hidden_act=str(raw.get("hidden_activation", "gelu_pytorch_tanh")),
        tie_word_embeddings=bool(raw.get("tie_word_embeddings", True)),
        final_logit_softcapping=raw.get("final_logit_softcapping"),
        max_position_embeddings=int(raw.get("max_position_embeddings", 131_072)),
        bos_token_id=raw.get("bos_token_id"),
        eos_token_ids=eos_ids(raw),
        pad_token_id=raw.get("pad_token_id"),
    )


class Gemma3DecoderLayer(nn.Module):
    def __init__(self, config: ModelConfig, layer_idx: int) -> None:
        super().__init__()
        dim, eps = config.hidden_size, config.norm_eps
        self.self_attn = attention_for(config, layer_idx)
        self.mlp = GatedMLP(dim, config.intermediate_size, config.hidden_act)
        self.input_layernorm = GemmaRMSNorm(dim, eps)
        self.post_attention_layernorm = GemmaRMSNorm(dim, eps)
        self.pre_feedforward_layernorm = GemmaRMSNorm(dim, eps)
        self.post_feedforward_layernorm = GemmaRMSNorm(dim, eps)

    def forward(self, h: torch.Tensor, batch: ForwardBatch, pools: PoolTensors) -> torch.Tensor:
        attn = self.self_attn(self.input_layernorm(h), batch, pools)
        h = h + self.post_attention_layernorm(attn)
        ff = self.mlp(self.pre_feedforward_layernorm(h))
        return h + self.post_feedforward_layernorm(ff)


class Gemma3TextModel(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(
            Gemma3DecoderLayer(config, i) for i in range(len(config.layer_types))
        )
        self.norm = GemmaRMSNorm(config.hidden_size, config.norm_eps)


class Gemma3ForCausalLM(CausalLM):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.model = Gemma3TextModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.tie_weights()
        self.lay_out_weights()

    def input_embeddings(self) -> nn.Embedding:
        return self.model.embed_tokens

    def hidden_states(self, batch: ForwardBatch, pools: PoolTensors) -> torch.Tensor:
        emb = self.model.embed_tokens(batch.input_ids)  # [T, hidden]
        # NOTE: the scale is rounded to the weight dtype first, as in the reference.
        h = emb * torch.tensor(self.config.hidden_size**0.5, dtype=emb.dtype)
        for layer in self.model.layers:
            h = layer(h, batch, pools)
        return self.model.norm(h)


def build(config: ModelConfig) -> Gemma3ForCausalLM:
    return Gemma3ForCausalLM(config)


def checkpoint_name(name: str) -> str:
    """Gemma3 text weights exported from the multimodal model carry `language_model.`."""
    return name.replace("language_model.model.", "model.").replace(
        "model.language_model.", "model."
    )
