"""ChatTemplate: model templates from tokenizer_config.json, the list form, the fallback, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.server.chat_template import ChatTemplate

TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "<|{{ m['role'] }}|>{{ m['content'] }}{{ eos_token }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
]


def _model_dir(tmp_path: Path, **config: object) -> Path:
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    return tmp_path


def test_template_string_renders_with_special_tokens(tmp_path: Path) -> None:
    """A string chat_template renders with bos/eos given as plain strings."""
    path = _model_dir(tmp_path, chat_template=TEMPLATE, bos_token="<s>", eos_token="</s>")
    template = ChatTemplate.from_model_dir(path)
    assert not template.is_fallback
    expected = "<s><|system|>Be brief.</s>\n<|user|>Hi</s>\n<|assistant|>"
    assert template.render(MESSAGES) == expected


def test_list_form_uses_the_default_entry(tmp_path: Path) -> None:
    """Of a list of named templates, the one named "default" is used."""
    entries = [
        {"name": "tool_use", "template": "TOOLS"},
        {"name": "default", "template": TEMPLATE},
    ]
    bos = {"content": "<s>", "lstrip": False}
    path = _model_dir(tmp_path, chat_template=entries, bos_token=bos, eos_token={"content": "!"})
    rendered = ChatTemplate.from_model_dir(path).render(MESSAGES[1:])
    assert rendered == "<s><|user|>Hi!\n<|assistant|>"


def test_list_form_without_default_is_refused(tmp_path: Path) -> None:
    """A list of templates without a "default" entry raises ValueError naming the entries."""
    path = _model_dir(tmp_path, chat_template=[{"name": "tool_use", "template": "x"}])
    with pytest.raises(ValueError, match="no 'default'.*tool_use"):
        ChatTemplate.from_model_dir(path)


def test_template_file_beside_the_config_is_used(tmp_path: Path) -> None:
    """A chat_template.jinja file serves when the config names no template."""
    path = _model_dir(tmp_path, eos_token="</s>")
    (path / "chat_template.jinja").write_text(TEMPLATE)
    assert ChatTemplate.from_model_dir(path).render(MESSAGES[1:]) == "<|user|>Hi</s>\n<|assistant|>"


@pytest.mark.parametrize("with_config", [True, False])
def test_fallback_format(tmp_path: Path, with_config: bool) -> None:
    """Without a template, each message is "<role>: <content>" on its line, then "assistant:"."""
    if with_config:
        _model_dir(tmp_path, bos_token="<s>")
    template = ChatTemplate.from_model_dir(tmp_path)
    assert template.is_fallback
    assert template.render(MESSAGES) == "system: Be brief.\nuser: Hi\nassistant:"


def test_trim_and_lstrip_blocks_are_on() -> None:
    """Block tags on their own lines leave no stray newlines or indentation."""
    source = (
        "{% for m in messages %}\n"
        "    {% if m['role'] == 'user' %}\n"
        "[{{ m['content'] }}]\n"
        "    {% endif %}\n"
        "{% endfor %}"
    )
    rendered = ChatTemplate(source).render(MESSAGES)
    assert rendered == "[Hi]\n"


def test_invalid_jinja_is_refused_on_load(tmp_path: Path) -> None:
    """A template that does not parse raises ValueError when the model dir is read."""
    path = _model_dir(tmp_path, chat_template="{% for m in messages %}{{ m }")
    with pytest.raises(ValueError, match="not valid Jinja"):
        ChatTemplate.from_model_dir(path)


def test_raise_exception_becomes_value_error() -> None:
    """A template's raise_exception(...) surfaces as ValueError with its message."""
    source = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('user first') }}{% endif %}"
    with pytest.raises(ValueError, match="failed to render: user first"):
        ChatTemplate(source).render(MESSAGES)


def test_runtime_template_error_becomes_value_error() -> None:
    """A template that fails while rendering (here, mutating its input) raises ValueError."""
    with pytest.raises(ValueError, match="failed to render"):
        ChatTemplate("{{ messages.append(1) }}").render(MESSAGES)


def test_malformed_config_is_refused(tmp_path: Path) -> None:
    """A tokenizer_config.json that is not JSON raises ValueError naming the file."""
    (tmp_path / "tokenizer_config.json").write_text("{not json")
    with pytest.raises(ValueError, match="tokenizer_config.json"):
        ChatTemplate.from_model_dir(tmp_path)


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([], "must not be empty"),
        ([{"role": "robot", "content": "x"}], "role 'robot'"),
        ([{"content": "x"}], "role None"),
        ([{"role": "user"}], r"messages\[0\] \(user\) needs a string 'content'"),
        ([{"role": "user", "content": "a"}, "hi"], r"messages\[1\] must be an object"),
    ],
)
@pytest.mark.parametrize("source", [TEMPLATE, None])
def test_bad_messages_are_refused(
    messages: list[dict[str, str]], error: str, source: str | None
) -> None:
    """Unknown roles, missing content and empty lists raise ValueError, template or not."""
    with pytest.raises(ValueError, match=error):
        ChatTemplate(source).render(messages)
