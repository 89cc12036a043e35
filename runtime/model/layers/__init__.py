"""Layer building blocks shared by the architectures."""

from runtime.model.layers.attention import Attention
from runtime.model.layers.mamba2 import Mamba2Mixer
from runtime.model.layers.mlp import GatedMLP, PlainMLP
from runtime.model.layers.norm import GatedGroupRMSNorm, GemmaRMSNorm, RMSNorm
from runtime.model.layers.rope import RotaryEmbedding

__all__ = [
    "Attention",
    "GatedGroupRMSNorm",
    "GatedMLP",
    "GemmaRMSNorm",
    "Mamba2Mixer",
    "PlainMLP",
    "RMSNorm",
    "RotaryEmbedding",
]
