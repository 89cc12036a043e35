"""NemotronH (Mamba2 + attention without RoPE + relu² MLP), and the block stack our own
`poolscope_hybrid` reuses. HF weight names live under `backbone.`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from runtime.memory.pool_tensors import PoolTensors
from runtime.model.causal_lm import CausalLM, attention_for, mamba_for
from runtime.model.config import (
    FULL_ATTENTION,
    MAMBA,
    MLP,
    SLIDING_ATTENTION,
    AttentionConfig,
    ConfigError,
    MambaConfig,
    ModelConfig,
    eos_ids,
    positive,
    require,
)
from runtime.model.forward_batch import ForwardBatch
from runtime.model.layers.mlp import PlainMLP
from runtime.model.layers.norm import RMSNorm

# HF spellings of a block type (new list form, legacy pattern letters) -> our layer kind.
BLOCK_TYPES = {
    "linear_attention": MAMBA,
    "mamba": MAMBA,
    "M": MAMBA,
    "full_attention": FULL_ATTENTION,
    "attention": FULL_ATTENTION,
    "*": FULL_ATTENTION,
    "mlp": MLP,
    "-": MLP,
}


def parse_block_types(raw: dict, extra: dict[str, str] | None = None) -> tuple[str, ...]:
    """Reads `layers_block_type` (list) or the legacy `hybrid_override_pattern` (string)."""
    known = BLOCK_TYPES | (extra or {})
    types = (
        raw.get("layers_block_type") or raw.get("layer_types") or raw.get("hybrid_override_pattern")
    )
    if not types:
        raise ConfigError(
            "config.json has neither 'layers_block_type' nor 'hybrid_override_pattern'"
        )
    unknown = sorted({str(t) for t in types} - set(known))
    if unknown:
        raise ConfigError(
            f"unsupported block types {unknown} (mixture-of-experts is not supported)"
        )
    return tuple(known[t] for t in types)


def mamba_config(raw: dict) -> MambaConfig:
    def get(key: str, legacy: str, default: object) -> object:
        return raw.get(key, raw.get(legacy, default))

    return MambaConfig(
        num_heads=int(require(raw, "mamba_num_heads")),
        head_dim=int(require(raw, "mamba_head_dim")),
        state_size=int(require(raw, "ssm_state_size")),
        n_groups=int(get("n_groups", "mamba_n_groups", 8)),
        conv_kernel=int(get("conv_kernel", "mamba_d_conv", 4)),
        chunk_size=int(get("chunk_size", "mamba_chunk_size", 128)),
        dt_min=float(get("time_step_min", "mamba_dt_min", 0.001)),
        norm_eps=float(raw.get("layer_norm_epsilon", 1e-5)),
        conv_bias=bool(get("use_conv_bias", "mamba_conv_bias", True)),
        proj_bias=bool(raw.get("use_bias", False)),
    )


def parse_config(raw: dict, extra_block_types: dict[str, str] | None = None) -> ModelConfig:
    """NemotronH's config.json -> ModelConfig; `extra_block_types` serves poolscope_hybrid."""
    hidden = int(require(raw, "hidden_size"))
    heads = positive(raw, "num_attention_heads")
    head_dim = int(raw.get("head_dim") or hidden // heads)
    return ModelConfig(
        model_type="nemotron_h",
        vocab_size=int(require(raw, "vocab_size")),
        hidden_size=hidden,
        intermediate_size=int(require(raw, "intermediate_size")),
        layer_types=parse_block_types(raw, extra_block_types),
        attention=AttentionConfig(
            num_heads=heads,
            num_kv_heads=int(raw.get("num_key_value_heads") or heads),
            head_dim=head_dim,
            scaling=head_dim**-0.5,
            # Used only by layer kinds a caller adds (poolscope_hybrid); HF NemotronH ignores it.
            sliding_window=raw.get("sliding_window") if extra_block_types else None,
            bias=bool(raw.get("attention_bias", False)),
        ),
        mamba=mamba_config(raw),
        norm_eps=float(raw.get("layer_norm_epsilon", 1e-5)),
        hidden_act=str(raw.get("mlp_hidden_act", "relu2")),
        mlp_bias=bool(raw.get("mlp_bias", False)),
        tie_word_embeddings=bool(raw.get("tie_word_embeddings", False)),
        max_position_embeddings=int(raw.get("max_position_embeddings", 4096)),
        bos_token_id=raw.get("bos_token_id"),
        eos_token_ids=eos_ids(raw),
        pad_token_id=raw.get("pad_token_id"),
    )


class HybridBlock(nn.Module):
    """Pre-norm residual block around one mixer: Mamba2, attention (full or sliding) or MLP."""

    def __init__(self, config: ModelConfig, layer_idx: int) -> None:
        super().__init__()
        self.layer_type = config.layer_types[layer_idx]
        self.norm = RMSNorm(config.hidden_size, config.norm_eps)
        if self.layer_type == MAMBA:
            self.mixer: nn.Module = mamba_for(config, layer_idx)
        elif self.layer_type in (FULL_ATTENTION, SLIDING_ATTENTION):
            self.mixer = attention_for(config, layer_idx)
        else:
            self.mixer = PlainMLP(
                config.hidden_size, config.intermediate_size, config.hidden_act, config.mlp_bias
            )

    def forward(self, h: torch.Tensor, batch: ForwardBatch, pools: PoolTensors) -> torch.Tensor:
        x = self.norm(h)
        out = self.mixer(x) if self.layer_type == MLP else self.mixer(x, batch, pools)
        return h + out


class HybridBackbone(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(HybridBlock(config, i) for i in range(len(config.layer_types)))
        self.norm_f = RMSNorm(config.hidden_size, config.norm_eps)


class NemotronHForCausalLM(CausalLM):
    """NemotronH's module tree; also the body of `poolscope_hybrid` (sliding layers, RoPE)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = HybridBackbone(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.tie_weights()
        self.lay_out_weights()

    def input_embeddings(self) -> nn.Embedding:
        return self.backbone.embeddings

    def hidden_states(self, batch: ForwardBatch, pools: PoolTensors) -> torch.Tensor:
        h = self.backbone.embeddings(batch.input_ids)  # [T, hidden]
        for layer in self.backbone.layers:
            h = layer(h, batch, pools)
        return self.backbone.norm_f(h)


def build(config: ModelConfig) -> NemotronHForCausalLM:
    return NemotronHForCausalLM(config)


def checkpoint_name(name: str) -> str:
    """Some NemotronH exports use `model.` where HF's own save writes `backbone.`."""
    return "backbone." + name[len("model.") :] if name.startswith("model.") else name


def init_mamba_(
    mixer: nn.Module, generator: torch.Generator, dt_range: tuple[float, float]
) -> None:
    """Mamba2's standard init: A = 1..H, D = 1, dt_bias = softplus⁻¹(dt) with log-uniform dt."""
    heads = mixer.A_log.numel()
    mixer.A_log.data.copy_(torch.log(torch.arange(1, heads + 1, dtype=torch.float32)))
    mixer.D.data.fill_(1.0)
    low, high = math.log(dt_range[0]), math.log(dt_range[1])
    dt = torch.exp(torch.rand(heads, generator=generator) * (high - low) + low)
    mixer.dt_bias.data.copy_(dt + torch.log(-torch.expm1(-dt)))
