"""Tests for runtime.model.loader: good checkpoints load ready for inference, and every way a
checkpoint directory can be broken ends in one CheckpointError that names the problem.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from runtime.model.architectures import ARCHITECTURES
from runtime.model.loader import CheckpointError, load_model

WEIGHTS_FILE = "model.safetensors"
Weights = dict[str, torch.Tensor]


def _copy(src: Path, tmp_path: Path) -> Path:
    """A private copy of a session checkpoint that a test may break."""
    return Path(shutil.copytree(src, tmp_path / "ckpt"))


def _edit_config(path: Path, **changes: object) -> None:
    """Rewrites config.json with `changes` applied; a value of `...` deletes the key."""
    raw = json.loads((path / "config.json").read_text())
    for key, value in changes.items():
        if value is ...:
            del raw[key]
        else:
            raw[key] = value
    (path / "config.json").write_text(json.dumps(raw))


def _edit_weights(path: Path, edit: Callable[[Weights], None]) -> None:
    """Loads the checkpoint's tensors, lets `edit` change them in place, and saves them back."""
    weights = load_file(str(path / WEIGHTS_FILE))
    edit(weights)
    save_file(weights, str(path / WEIGHTS_FILE))


def test_good_checkpoint_loads_frozen_in_eval_mode(nemotron_h_dir: Path) -> None:
    """A good checkpoint loads in eval mode, with no parameter requiring grad, in float32."""
    lm = load_model(nemotron_h_dir)
    assert lm.config.model_type == "nemotron_h"
    assert lm.path == nemotron_h_dir
    assert not any(module.training for module in lm.model.modules())
    params = list(lm.model.parameters())
    assert params
    assert all(not p.requires_grad for p in params)
    assert {p.dtype for p in params} == {torch.float32}


def test_good_checkpoint_loads_weights_from_file(nemotron_h_dir: Path) -> None:
    """Every tensor of the checkpoint ends up in the model's state dict, unchanged."""
    saved = load_file(str(nemotron_h_dir / WEIGHTS_FILE))
    state = load_model(nemotron_h_dir).model.state_dict()
    assert set(saved) == set(state)
    for name, tensor in saved.items():
        torch.testing.assert_close(state[name], tensor, rtol=0, atol=0)


def test_bfloat16_dtype_gives_bf16_parameters(gemma3_dir: Path) -> None:
    """dtype=torch.bfloat16 gives bf16 parameters and keeps a tied head tied to the embedding."""
    lm = load_model(gemma3_dir, dtype=torch.bfloat16)
    assert {p.dtype for p in lm.model.parameters()} == {torch.bfloat16}
    assert lm.model.lm_head.weight is lm.model.input_embeddings().weight


def test_missing_directory(tmp_path: Path) -> None:
    """A directory that does not exist is reported by name."""
    missing = tmp_path / "no-such-model"
    with pytest.raises(CheckpointError, match=rf"'{re.escape(str(missing))}' does not exist"):
        load_model(missing)


def test_no_config_json(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """A directory without config.json says config.json is what is missing."""
    path = _copy(nemotron_h_dir, tmp_path)
    (path / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"has no config\.json"):
        load_model(path)


def test_config_not_valid_json(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """A config.json that does not parse as JSON is named as not valid JSON."""
    path = _copy(nemotron_h_dir, tmp_path)
    (path / "config.json").write_text('{"model_type": "nemotron_h", ')
    with pytest.raises(CheckpointError, match=r"config\.json is not valid JSON"):
        load_model(path)


def test_config_not_an_object(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """A config.json holding a JSON list instead of an object is rejected as such."""
    path = _copy(nemotron_h_dir, tmp_path)
    (path / "config.json").write_text("[1, 2, 3]")
    with pytest.raises(CheckpointError, match=r"must hold a JSON object"):
        load_model(path)


def test_unknown_model_type_lists_supported(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """An unknown model_type is named, and the message lists every supported model_type."""
    path = _copy(nemotron_h_dir, tmp_path)
    _edit_config(path, model_type="llama")
    with pytest.raises(CheckpointError, match=r"unknown model_type 'llama'.*supported:") as info:
        load_model(path)
    for model_type in ARCHITECTURES:
        assert model_type in str(info.value)


@pytest.mark.parametrize("field", ["hidden_size", "vocab_size", "num_attention_heads"])
def test_missing_required_field_is_named(nemotron_h_dir: Path, tmp_path: Path, field: str) -> None:
    """A config.json without a required field names that field."""
    path = _copy(nemotron_h_dir, tmp_path)
    _edit_config(path, **{field: ...})
    with pytest.raises(CheckpointError, match=rf"missing required field '{field}'"):
        load_model(path)


def test_mistyped_field_is_named(gemma3_dir: Path, tmp_path: Path) -> None:
    """A required field of the wrong JSON type names the field and the type found."""
    path = _copy(gemma3_dir, tmp_path)
    _edit_config(path, hidden_size="128")
    with pytest.raises(CheckpointError, match=r"field 'hidden_size' has type str"):
        load_model(path)


def test_inconsistent_heads_are_explained(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """Attention heads that are not a multiple of the kv heads are reported with both counts."""
    path = _copy(nemotron_h_dir, tmp_path)
    _edit_config(path, num_key_value_heads=3)
    with pytest.raises(CheckpointError, match=r"num_attention_heads \(4\).*\(3\)"):
        load_model(path)


@pytest.mark.parametrize(
    ("fixture", "changes"),
    [
        ("nemotron_h_dir", {"n_groups": 0}),
        ("nemotron_h_dir", {"num_attention_heads": 0, "head_dim": None}),
        ("gemma3_dir", {"layer_types": ..., "sliding_window_pattern": 0}),
        ("gemma3_dir", {"query_pre_attn_scalar": 0}),
        ("gemma3_dir", {"rope_parameters": "default"}),
        ("gemma3_dir", {"intermediate_size": -5}),
    ],
    ids=["n_groups-0", "heads-0", "window-pattern-0", "pre-attn-scalar-0", "rope-str", "neg-ffn"],
)
def test_degenerate_config_values_give_checkpoint_error(
    request: pytest.FixtureRequest, tmp_path: Path, fixture: str, changes: dict
) -> None:
    """Zero, negative or mistyped config values give a CheckpointError naming config.json."""
    path = _copy(request.getfixturevalue(fixture), tmp_path)
    _edit_config(path, **changes)
    with pytest.raises(CheckpointError, match=r"config\.json"):
        load_model(path)


def test_missing_weight_is_named(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """A checkpoint without one of the model's tensors names the missing weight."""
    path = _copy(nemotron_h_dir, tmp_path)
    name = "backbone.layers.2.mixer.o_proj.weight"
    _edit_weights(path, lambda w: w.pop(name))
    with pytest.raises(CheckpointError, match=rf"missing weights: {re.escape(name)}$"):
        load_model(path)


def test_extra_weight_is_named(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """A checkpoint with a tensor the model does not have names the unexpected weight."""
    path = _copy(nemotron_h_dir, tmp_path)
    name = "backbone.layers.0.extra.weight"
    _edit_weights(path, lambda w: w.update({name: torch.zeros(4, 4)}))
    with pytest.raises(CheckpointError, match=rf"unexpected weights: {re.escape(name)}$"):
        load_model(path)


def test_many_missing_weights_are_summarised(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """When many weights are missing, the message shows a few names and counts the rest."""
    path = _copy(nemotron_h_dir, tmp_path)

    def drop_layer_weights(weights: Weights) -> None:
        for key in [k for k in weights if k.startswith("backbone.layers.0.")]:
            del weights[key]

    _edit_weights(path, drop_layer_weights)
    with pytest.raises(
        CheckpointError, match=r"missing weights: backbone\.layers\.0\..* and \d+ more"
    ):
        load_model(path)


def test_wrong_shape_names_weight_and_both_shapes(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """A tensor of the wrong shape is named together with its shape and the expected one."""
    path = _copy(nemotron_h_dir, tmp_path)
    name = "backbone.embeddings.weight"
    _edit_weights(path, lambda w: w.update({name: torch.zeros(512, 64)}))
    pattern = rf"weight '{re.escape(name)}' .* has shape \(512, 64\), expected \(512, 128\)"
    with pytest.raises(CheckpointError, match=pattern):
        load_model(path)


def test_garbage_safetensors(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """A weight file full of garbage bytes is named as corrupt or not safetensors."""
    path = _copy(nemotron_h_dir, tmp_path)
    (path / WEIGHTS_FILE).write_bytes(b"\x93not a safetensors file\x00" * 64)
    with pytest.raises(CheckpointError, match=rf"{WEIGHTS_FILE}': corrupt or not safetensors"):
        load_model(path)


def test_truncated_safetensors(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """A weight file cut to half its length is named as corrupt or not safetensors."""
    path = _copy(nemotron_h_dir, tmp_path)
    data = (path / WEIGHTS_FILE).read_bytes()
    (path / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=rf"{WEIGHTS_FILE}': corrupt or not safetensors"):
        load_model(path)


def test_empty_safetensors_file(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """A zero-byte weight file is named as corrupt or not safetensors."""
    path = _copy(nemotron_h_dir, tmp_path)
    (path / WEIGHTS_FILE).write_bytes(b"")
    with pytest.raises(CheckpointError, match=rf"{WEIGHTS_FILE}': corrupt or not safetensors"):
        load_model(path)


def test_no_safetensors_files(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """A directory with a config but no *.safetensors files says the weight files are missing."""
    path = _copy(nemotron_h_dir, tmp_path)
    (path / WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match=r"has no \*\.safetensors weight files"):
        load_model(path)


def test_weight_in_two_shards_is_named(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """A tensor present in two weight files is named as appearing twice."""
    path = _copy(nemotron_h_dir, tmp_path)
    name = "backbone.norm_f.weight"
    save_file({name: torch.ones(128)}, str(path / "zz-extra.safetensors"))
    with pytest.raises(CheckpointError, match=rf"weight '{re.escape(name)}' appears twice"):
        load_model(path)


def test_sharded_checkpoint_loads(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """Weights split over two safetensors files load as one checkpoint."""
    path = _copy(nemotron_h_dir, tmp_path)
    weights = load_file(str(path / WEIGHTS_FILE))
    names = sorted(weights)
    half = len(names) // 2
    (path / WEIGHTS_FILE).unlink()
    save_file({k: weights[k] for k in names[:half]}, str(path / "model-00001.safetensors"))
    save_file({k: weights[k] for k in names[half:]}, str(path / "model-00002.safetensors"))
    state = load_model(path).model.state_dict()
    torch.testing.assert_close(state[names[-1]], weights[names[-1]], rtol=0, atol=0)


def test_malformed_tokenizer_json(nemotron_h_dir: Path, tmp_path: Path) -> None:
    """An unreadable tokenizer.json beside the weights gives a CheckpointError naming it."""
    path = _copy(nemotron_h_dir, tmp_path)
    (path / "tokenizer.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"cannot read tokenizer file .*tokenizer\.json"):
        load_model(path)


def test_tied_gemma3_with_saved_lm_head_loads(gemma3_dir: Path, tmp_path: Path) -> None:
    """A tied gemma3 checkpoint that also carries lm_head.weight loads, the head still tied."""
    path = _copy(gemma3_dir, tmp_path)
    _edit_weights(
        path, lambda w: w.update({"lm_head.weight": w["model.embed_tokens.weight"].clone()})
    )
    assert "lm_head.weight" in load_file(str(path / WEIGHTS_FILE))
    lm = load_model(path)
    assert lm.config.tie_word_embeddings
    assert lm.model.lm_head.weight is lm.model.input_embeddings().weight
    saved = load_file(str(path / WEIGHTS_FILE))["model.embed_tokens.weight"]
    torch.testing.assert_close(lm.model.lm_head.weight, saved, rtol=0, atol=0)


def test_a_file_path_is_told_to_pass_the_directory(nemotron_h_dir: Path) -> None:
    """Pointing at config.json instead of its directory says so, not 'does not exist'."""
    with pytest.raises(CheckpointError, match="is a file; pass the directory"):
        load_model(nemotron_h_dir / "config.json")
