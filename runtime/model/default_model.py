"""The built-in default model, `poolscope_hybrid`: created from a fixed seed on first use into the
local cache (no download), saved as an HF-format directory and loaded through the same loader.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from runtime.config import env_settings
from runtime.model.architectures import ARCHITECTURES
from runtime.model.architectures.nemotron_h import init_mamba_
from runtime.model.tokenizer import ByteTokenizer

DEFAULT_NAME = "poolscope-hybrid-v1"
DEFAULT_SEED = 20261121
INIT_STD = 0.02
DT_RANGE = (0.001, 0.1)

# Small enough for two CPU cores; windows and chunks short enough that every pool moves.
DEFAULT_CONFIG: dict = {
    "model_type": "poolscope_hybrid",
    "architectures": ["PoolscopeHybridForCausalLM"],
    "vocab_size": 320,
    "hidden_size": 256,
    "intermediate_size": 768,
    "layers_block_type": [
        "mamba",
        "mlp",
        "sliding_attention",
        "mlp",
        "mamba",
        "mlp",
        "full_attention",
        "mlp",
        "mamba",
        "mlp",
        "sliding_attention",
        "mlp",
    ],
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "sliding_window": 64,
    "rope_theta": {"full_attention": 1_000_000.0, "sliding_attention": 10_000.0},
    "mamba_num_heads": 16,
    "mamba_head_dim": 32,
    "ssm_state_size": 32,
    "n_groups": 2,
    "conv_kernel": 4,
    "chunk_size": 64,
    "time_step_min": 0.001,
    "layer_norm_epsilon": 1e-5,
    "mlp_hidden_act": "relu2",
    "max_position_embeddings": 4096,
    "tie_word_embeddings": False,
    "bos_token_id": ByteTokenizer.BOS_ID,
    "eos_token_id": ByteTokenizer.EOS_ID,
    "pad_token_id": ByteTokenizer.PAD_ID,
    "seed": DEFAULT_SEED,
}


def default_model_dir(cache_dir: Path | None = None) -> Path:
    return (cache_dir or env_settings().cache_dir) / "models" / DEFAULT_NAME


def random_state_dict(raw_config: dict, seed: int) -> dict[str, torch.Tensor]:
    """Deterministic weights for `raw_config`: the same seed gives the same bytes on any machine
    with the same torch, since parameters are drawn in sorted-name order from one CPU generator."""
    arch = ARCHITECTURES[raw_config["model_type"]]
    model = arch.build(arch.parse_config(raw_config))
    generator = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    for name in sorted(params):
        param = params[name]
        if name.endswith("norm.weight") or name.endswith("norm_f.weight"):
            param.data.fill_(1.0)
        elif name.endswith(".bias"):
            param.data.zero_()
        elif not name.endswith(("A_log", ".D", "dt_bias")):
            param.data.copy_(torch.randn(param.shape, generator=generator) * INIT_STD)
    for module in model.modules():
        if hasattr(module, "A_log"):
            init_mamba_(module, generator, DT_RANGE)
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def write_checkpoint(raw_config: dict, seed: int, out_dir: Path) -> None:
    """Writes config.json + model.safetensors, atomically: a crash never leaves half a model."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    tmp.chmod(0o755)
    try:
        save_file(random_state_dict(raw_config, seed), str(tmp / "model.safetensors"))
        (tmp / "config.json").write_text(json.dumps(raw_config, indent=2) + "\n")
        os.replace(tmp, out_dir)
    except OSError:
        if out_dir.is_dir():  # another process won the race; its copy is identical
            shutil.rmtree(tmp, ignore_errors=True)
            return
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def ensure_default_model(cache_dir: Path | None = None) -> Path:
    """Path of the default checkpoint, creating it on first use."""
    path = default_model_dir(cache_dir)
    if not (path / "config.json").is_file():
        write_checkpoint(DEFAULT_CONFIG, DEFAULT_SEED, path)
    return path


def resolve_model_path(spec: str, cache_dir: Path | None = None) -> Path:
    """`default` names the built-in model; anything else is a model directory."""
    return ensure_default_model(cache_dir) if spec == "default" else Path(spec).expanduser()
