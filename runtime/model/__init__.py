"""Model code: layers, architectures, checkpoint loading, tokenizers and the built-in default."""

from runtime.model.config import ModelConfig
from runtime.model.forward_batch import ForwardBatch, ForwardMode, build_batch
from runtime.model.loader import CheckpointError, LoadedModel, load_model

__all__ = [
    "CheckpointError",
    "ForwardBatch",
    "ForwardMode",
    "LoadedModel",
    "ModelConfig",
    "build_batch",
    "load_model",
]
