"""Random HF checkpoints for the benchmarks, built locally with transformers (nothing downloaded).

`build_checkpoint("nemotron_h", out_dir)` writes the issue's size (hidden 512, 8 layers);
`size="tiny"` writes hidden 64, 2 layers, for quick mode. Both keep a hybrid layer pattern: mamba,
attention and MLP layers for nemotron_h; sliding and full attention for gemma3_text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

SEED = 1234
MODEL_TYPES = ("nemotron_h", "gemma3_text")


@dataclass(frozen=True)
class CheckpointSize:
    """The knobs that differ between the benchmark model and the quick-mode one."""

    vocab: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    nemotron_layers: tuple[str, ...]
    gemma_layers: tuple[str, ...]
    window: int

    @property
    def intermediate(self) -> int:
        return 2 * self.hidden


_M, _A, _P = "linear_attention", "full_attention", "mlp"  # NemotronH: mamba, attention, MLP
_S, _F = "sliding_attention", "full_attention"  # Gemma3
SIZES = {
    "bench": CheckpointSize(
        vocab=4096, hidden=512, heads=8, kv_heads=2, head_dim=64,
        nemotron_layers=(_M, _P, _A, _P, _M, _P, _M, _P),
        gemma_layers=(_S, _S, _S, _F, _S, _S, _S, _F), window=128,
    ),
    "tiny": CheckpointSize(
        vocab=512, hidden=64, heads=4, kv_heads=2, head_dim=16,
        nemotron_layers=(_M, _A), gemma_layers=(_S, _F), window=8,
    ),
}


def hf_config(model_type: str, size: CheckpointSize) -> object:
    """The transformers config of one benchmark model."""
    from transformers import Gemma3TextConfig, NemotronHConfig

    common = {"vocab_size": size.vocab, "hidden_size": size.hidden,
              "intermediate_size": size.intermediate, "num_attention_heads": size.heads,
              "num_key_value_heads": size.kv_heads, "head_dim": size.head_dim,
              "max_position_embeddings": 2048}
    if model_type == "nemotron_h":
        mamba_head_dim = 32
        return NemotronHConfig(
            **common, layers_block_type=list(size.nemotron_layers),
            mamba_num_heads=2 * size.hidden // mamba_head_dim, mamba_head_dim=mamba_head_dim,
            ssm_state_size=32, n_groups=2, chunk_size=64,
        )
    if model_type == "gemma3_text":
        return Gemma3TextConfig(
            **common, num_hidden_layers=len(size.gemma_layers),
            layer_types=list(size.gemma_layers), sliding_window=size.window,
            query_pre_attn_scalar=size.head_dim,
        )
    raise ValueError(f"unknown model type {model_type!r}; known: {', '.join(MODEL_TYPES)}")


def build_checkpoint(model_type: str, out_dir: Path, size: str = "bench") -> Path:
    """Saves a random transformers model (fixed seed) as safetensors in `out_dir`; returns it."""
    from transformers import Gemma3ForCausalLM, NemotronHForCausalLM

    torch.manual_seed(SEED)
    cls = NemotronHForCausalLM if model_type == "nemotron_h" else Gemma3ForCausalLM
    model = cls(hf_config(model_type, SIZES[size])).eval()
    model.save_pretrained(out_dir)
    return out_dir
