"""Loads an HF-format model directory (`config.json` + `*.safetensors`) into a poolscope model.

Every way a checkpoint can be wrong ends in one `CheckpointError` that names the problem.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open

from runtime.model.architectures import ARCHITECTURES, Architecture
from runtime.model.causal_lm import CausalLM
from runtime.model.config import ConfigError, ModelConfig
from runtime.model.tokenizer import Tokenizer, load_tokenizer

CONFIG_FILE = "config.json"
MAX_NAMES_SHOWN = 5


class CheckpointError(ValueError):
    """A model directory that cannot be loaded; the message says which file and what is wrong."""


@dataclass
class LoadedModel:
    """A ready model with its parsed config and tokenizer."""

    model: CausalLM
    config: ModelConfig
    tokenizer: Tokenizer
    path: Path


def read_config(path: Path) -> tuple[dict, Architecture, ModelConfig]:
    """Reads and validates `config.json`; raises CheckpointError naming what is wrong."""
    if not path.exists():
        raise CheckpointError(f"model directory '{path}' does not exist")
    if not path.is_dir():
        raise CheckpointError(f"model path '{path}' is a file; pass the directory holding it")
    config_file = path / CONFIG_FILE
    if not config_file.is_file():
        raise CheckpointError(f"'{path}' has no {CONFIG_FILE}")
    try:
        raw = json.loads(config_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{config_file} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{config_file} must hold a JSON object")
    model_type = raw.get("model_type")
    if model_type not in ARCHITECTURES:
        supported = ", ".join(sorted(ARCHITECTURES))
        raise CheckpointError(
            f"unknown model_type '{model_type}' in {config_file}; supported: {supported}"
        )
    arch = ARCHITECTURES[model_type]
    try:
        return raw, arch, arch.parse_config(raw)
    except (ConfigError, TypeError, ValueError, KeyError, AttributeError, ArithmeticError) as exc:
        # Beyond ConfigError, a field of an unexpected type surfaces as one of these builtins.
        raise CheckpointError(f"{config_file}: {exc}") from None


def read_weights(path: Path, rename: Callable[[str], str]) -> dict[str, torch.Tensor]:
    """All tensors of every `*.safetensors` file in `path`, under our parameter names."""
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"'{path}' has no *.safetensors weight files")
    weights: dict[str, torch.Tensor] = {}
    for file in files:
        try:
            with safe_open(str(file), framework="pt", device="cpu") as handle:
                for key in handle.keys():  # noqa: SIM118 (safe_open handles are not iterable)
                    name = rename(key)
                    if name in weights:
                        raise CheckpointError(f"weight '{key}' appears twice ({file.name})")
                    weights[name] = handle.get_tensor(key)
        except CheckpointError:
            raise
        except Exception as exc:  # noqa: BLE001 (safetensors raises several unrelated types)
            raise CheckpointError(
                f"cannot read '{file}': corrupt or not safetensors ({exc})"
            ) from None
    return weights


def _names(names: set[str]) -> str:
    shown = sorted(names)[:MAX_NAMES_SHOWN]
    more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
    return ", ".join(shown) + more


def check_weights(model: CausalLM, weights: dict[str, torch.Tensor], path: Path) -> None:
    """Raises unless the checkpoint has exactly the model's weights, each of the right shape."""
    expected = dict(model.state_dict())
    if model.config.tie_word_embeddings:
        expected.pop("lm_head.weight", None)
        weights.pop("lm_head.weight", None)  # a tied head saved anyway is the embedding again
    missing, extra = set(expected) - set(weights), set(weights) - set(expected)
    if missing:
        raise CheckpointError(f"checkpoint '{path}' is missing weights: {_names(missing)}")
    if extra:
        raise CheckpointError(f"checkpoint '{path}' has unexpected weights: {_names(extra)}")
    for name, tensor in weights.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise CheckpointError(
                f"weight '{name}' in '{path}' has shape {tuple(tensor.shape)}, "
                f"expected {tuple(expected[name].shape)}"
            )


def load_model(
    path: str | Path, *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> LoadedModel:
    """Reads config, weights, tokenizer; returns the model on `device` in `dtype`, eval mode."""
    path = Path(path).expanduser()
    _, arch, config = read_config(path)
    weights = read_weights(path, arch.checkpoint_name)
    with torch.device(device):
        model = arch.build(config)
    check_weights(model, weights, path)
    model.load_state_dict(weights, strict=False)
    model.to(dtype=dtype).eval().requires_grad_(False)
    try:
        tokenizer = load_tokenizer(
            path,
            bos_token_id=config.bos_token_id,
            eos_token_ids=config.eos_token_ids,
            vocab_size=config.vocab_size,
        )
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    return LoadedModel(model=model, config=config, tokenizer=tokenizer, path=path)
