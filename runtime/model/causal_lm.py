"""What every architecture shares: per-layer pool wiring and the logits head."""

from __future__ import annotations

import torch
from torch import nn

from runtime.memory.pool_tensors import FULL, SWA, PoolTensors
from runtime.model.config import FULL_ATTENTION, MAMBA, SLIDING_ATTENTION, ModelConfig
from runtime.model.forward_batch import ForwardBatch
from runtime.model.layers.attention import Attention
from runtime.model.layers.fused_linear import column_major_
from runtime.model.layers.mamba2 import Mamba2Mixer

POOL_OF_KIND = {FULL_ATTENTION: FULL, SLIDING_ATTENTION: SWA}


def index_in_kind(config: ModelConfig, layer_idx: int) -> int:
    """Position of a layer among the layers of its own kind: its row in that pool's buffers."""
    return config.layers_of(config.layer_types[layer_idx]).index(layer_idx)


def attention_for(config: ModelConfig, layer_idx: int) -> Attention:
    """The attention module of layer `layer_idx`, wired to its pool (full or swa) and rope base."""
    kind = config.layer_types[layer_idx]
    att = config.attention
    return Attention(
        att,
        config.hidden_size,
        pool=POOL_OF_KIND[kind],
        layer_in_pool=index_in_kind(config, layer_idx),
        window=att.sliding_window if kind == SLIDING_ATTENTION else None,
        rope_base=att.rope_theta.get(kind),
        rope_factor=att.rope_factor.get(kind, 1.0),
        norm_eps=config.norm_eps,
    )


def mamba_for(config: ModelConfig, layer_idx: int) -> Mamba2Mixer:
    assert config.mamba is not None and config.layer_types[layer_idx] == MAMBA
    return Mamba2Mixer(
        config.mamba, config.hidden_size, layer_in_pool=index_in_kind(config, layer_idx)
    )


class CausalLM(nn.Module):
    """A decoder whose forward takes a ForwardBatch and the pool tensors and returns fp32 logits.

    Subclasses build the HF module tree (so state-dict names match checkpoints) and implement
    `hidden_states`; `lm_head` and optional final soft-capping are shared.
    """

    config: ModelConfig
    lm_head: nn.Linear

    def hidden_states(self, batch: ForwardBatch, pools: PoolTensors) -> torch.Tensor:
        """[T, hidden] final-normed hidden state of every new token."""
        raise NotImplementedError

    def input_embeddings(self) -> nn.Embedding:
        raise NotImplementedError

    def tie_weights(self) -> None:
        if self.config.tie_word_embeddings:
            self.lm_head.weight = self.input_embeddings().weight

    def lay_out_weights(self) -> None:
        """Every linear weight column-major (see `layers/fused_linear.py`), except fused parts
        (already) and a head tied to the embedding, whose rows the embedding lookup reads."""
        tied = self.input_embeddings().weight
        for module in self.modules():
            if isinstance(module, nn.Linear) and module.weight.is_contiguous():
                if module.weight is not tied:
                    column_major_(module)

    @torch.inference_mode()
    def forward(self, batch: ForwardBatch, pools: PoolTensors) -> torch.Tensor:
        """Logits [B, V] at each request's last new token, or [T, V] with `return_all_logits`."""
        hidden = self.hidden_states(batch, pools)
        if not batch.return_all_logits:
            hidden = hidden[batch.last_token_index()]
        logits = self.lm_head(hidden).float()
        cap = self.config.final_logit_softcapping
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return logits
