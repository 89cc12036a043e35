"""Architecture-neutral model configuration.

Each architecture module parses its own HF `config.json` (quirks and all) into these frozen
dataclasses; everything downstream (layers, pools, loader) reads only these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAMBA = "mamba"
FULL_ATTENTION = "full_attention"
SLIDING_ATTENTION = "sliding_attention"
MLP = "mlp"
LAYER_KINDS = (MAMBA, FULL_ATTENTION, SLIDING_ATTENTION, MLP)


class ConfigError(ValueError):
    """A config.json that cannot describe a model poolscope can run."""


@dataclass(frozen=True)
class AttentionConfig:
    """Shape and math of every attention layer in a model (full and sliding-window)."""

    num_heads: int
    num_kv_heads: int
    head_dim: int
    scaling: float
    sliding_window: int | None = None
    # Per layer kind; a kind missing here gets no rotary embedding (NemotronH attention has none).
    rope_theta: dict[str, float] = field(default_factory=dict)
    # HF's "linear" rope type divides positions by this factor, per layer kind (default 1).
    rope_factor: dict[str, float] = field(default_factory=dict)
    qk_norm: bool = False
    bias: bool = False

    def __post_init__(self) -> None:
        _require_positive(
            {
                "num_attention_heads": self.num_heads,
                "num_key_value_heads": self.num_kv_heads,
                "head_dim": self.head_dim,
            }
        )
        if self.num_heads % self.num_kv_heads:
            raise ConfigError(
                f"num_attention_heads ({self.num_heads}) must be a multiple of "
                f"num_key_value_heads ({self.num_kv_heads})"
            )
        if self.sliding_window is not None and self.sliding_window <= 0:
            raise ConfigError(f"sliding_window must be positive, got {self.sliding_window}")


@dataclass(frozen=True)
class MambaConfig:
    """Shape of every Mamba2 mixer; its state is one conv window plus one SSM state per layer."""

    num_heads: int
    head_dim: int
    state_size: int
    n_groups: int
    conv_kernel: int
    chunk_size: int
    # NOTE: transformers clamps dt to this floor in the chunked scan but not in single-step decode;
    # we do the same so logits match it on both paths.
    dt_min: float = 0.0
    norm_eps: float = 1e-5
    conv_bias: bool = True
    proj_bias: bool = False

    def __post_init__(self) -> None:
        sizes = {
            "mamba_num_heads": self.num_heads,
            "mamba_head_dim": self.head_dim,
            "ssm_state_size": self.state_size,
            "n_groups": self.n_groups,
        }
        _require_positive(sizes)
        if self.num_heads % self.n_groups:
            raise ConfigError(
                f"mamba heads ({self.num_heads}) not divisible by n_groups ({self.n_groups})"
            )
        if self.conv_kernel < 2 or self.chunk_size < 1:
            raise ConfigError("mamba conv_kernel must be >= 2 and chunk_size >= 1")

    @property
    def intermediate_size(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def conv_dim(self) -> int:
        return self.intermediate_size + 2 * self.n_groups * self.state_size


@dataclass(frozen=True)
class ModelConfig:
    """What the runtime needs to know about a checkpoint, whatever its `model_type`."""

    model_type: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    layer_types: tuple[str, ...]
    attention: AttentionConfig
    mamba: MambaConfig | None = None
    norm_eps: float = 1e-6
    hidden_act: str = "silu"
    mlp_bias: bool = False
    tie_word_embeddings: bool = False
    final_logit_softcapping: float | None = None
    max_position_embeddings: int = 4096
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = ()
    pad_token_id: int | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.layer_types) - set(LAYER_KINDS))
        if unknown:
            raise ConfigError(f"unsupported layer types {unknown}; supported: {list(LAYER_KINDS)}")
        if MAMBA in self.layer_types and self.mamba is None:
            raise ConfigError("config has mamba layers but no mamba parameters")
        if SLIDING_ATTENTION in self.layer_types and self.attention.sliding_window is None:
            raise ConfigError("config has sliding_attention layers but no sliding_window")
        _require_positive(
            {
                "vocab_size": self.vocab_size,
                "hidden_size": self.hidden_size,
                "intermediate_size": self.intermediate_size,
            }
        )
        if not self.layer_types:
            raise ConfigError("the model has no layers")

    def layers_of(self, kind: str) -> tuple[int, ...]:
        """Indices of the layers of one kind, in model order."""
        return tuple(i for i, t in enumerate(self.layer_types) if t == kind)

    @property
    def num_mamba_layers(self) -> int:
        return len(self.layers_of(MAMBA))

    @property
    def num_full_layers(self) -> int:
        return len(self.layers_of(FULL_ATTENTION))

    @property
    def num_swa_layers(self) -> int:
        return len(self.layers_of(SLIDING_ATTENTION))


def _require_positive(values: dict[str, int]) -> None:
    bad = [f"{name}={value}" for name, value in values.items() if value <= 0]
    if bad:
        raise ConfigError(f"must be positive: {', '.join(bad)}")


def positive(raw: dict, key: str) -> int:
    """A required integer field that must be > 0 (checked before anything divides by it)."""
    value = int(require(raw, key))  # type: ignore[call-overload]
    if value <= 0:
        raise ConfigError(f"config.json field '{key}' must be positive, got {value}")
    return value


def require(raw: dict, key: str, kind: type | tuple[type, ...] = int) -> object:
    """Reads one required config.json field, naming it when missing or mistyped."""
    if key not in raw:
        raise ConfigError(f"config.json is missing required field '{key}'")
    value = raw[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise ConfigError(f"config.json field '{key}' has type {type(value).__name__}")
    return value


def eos_ids(raw: dict) -> tuple[int, ...]:
    """HF configs spell eos as an int, a list or null."""
    value = raw.get("eos_token_id")
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (int(value),)
