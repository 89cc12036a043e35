"""Builders of tiny random checkpoints with transformers (the reference implementation)."""

from __future__ import annotations

from pathlib import Path

import torch

SEED = 1234
VOCAB = 512
WINDOW = 32


def tiny_hf_config(model_type: str) -> object:
    """Hidden 128, vocab 512, sliding window 32 (shorter than the test prompts)."""
    from transformers import Gemma3TextConfig, NemotronHConfig

    if model_type == "nemotron_h":
        return NemotronHConfig(
            vocab_size=VOCAB,
            hidden_size=128,
            layers_block_type=[
                "linear_attention",
                "mlp",
                "full_attention",
                "mlp",
                "linear_attention",
                "mlp",
            ],
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=32,
            intermediate_size=256,
            mamba_num_heads=8,
            mamba_head_dim=16,
            ssm_state_size=16,
            n_groups=2,
            chunk_size=16,
        )
    return Gemma3TextConfig(
        vocab_size=VOCAB,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=4,
        layer_types=[
            "sliding_attention",
            "sliding_attention",
            "full_attention",
            "sliding_attention",
        ],
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        sliding_window=WINDOW,
        query_pre_attn_scalar=24,
        final_logit_softcapping=30.0,
    )


def build_hf_model(model_type: str) -> torch.nn.Module:
    from transformers import Gemma3ForCausalLM, NemotronHForCausalLM

    torch.manual_seed(SEED)
    cls = NemotronHForCausalLM if model_type == "nemotron_h" else Gemma3ForCausalLM
    model = cls(tiny_hf_config(model_type)).eval()
    if model_type == "gemma3_text":
        # HF initialises Gemma norms to 0 (weight 1 + 0); random ones test the (1 + w) form.
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "norm" in name:
                    param.normal_(0.0, 0.3)
    return model


def build_hf_checkpoint(model_type: str, out_dir: Path) -> Path:
    """Saves a tiny random transformers model in HF format and returns its directory."""
    build_hf_model(model_type).save_pretrained(out_dir)
    return out_dir
