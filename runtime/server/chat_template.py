"""Chat messages to a prompt string, with the model's own Jinja chat template when it has one.

`ChatTemplate.from_model_dir(path)` reads `chat_template` from `tokenizer_config.json` (a string,
or a list of {"name", "template"} entries of which "default" is used), else a `chat_template.jinja`
file beside it. Templates render in a sandbox with `messages`, `add_generation_prompt=True`,
`bos_token`, `eos_token` and a `raise_exception(message)` global.

Without a template, the fallback format is exactly one line per message, then the cue:

    <role>: <content>\\n     (for each message, in order)
    assistant:

e.g. `[{"role": "user", "content": "Hi"}]` renders as "user: Hi\\nassistant:". A rendered prompt
already holds any BOS the template writes: encode it without adding special tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, NoReturn, get_args

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

CONFIG_FILE = "tokenizer_config.json"
TEMPLATE_FILE = "chat_template.jinja"
ChatRole = Literal["system", "user", "assistant", "tool"]  # also the API model's field type
ROLES = frozenset(get_args(ChatRole))


class ChatTemplate:
    """Renders a list of chat messages into one prompt string; immutable after construction.

    Construction raises ValueError when `source` is not valid Jinja; `render` raises ValueError
    for a bad message or a template that fails (including via `raise_exception`).
    """

    def __init__(self, source: str | None, *, bos_token: str = "", eos_token: str = "") -> None:
        self._bos_token = bos_token
        self._eos_token = eos_token
        self._template = _compile(source) if source is not None else None

    @classmethod
    def from_model_dir(cls, path: Path) -> ChatTemplate:
        """The template of the model at `path`; the fallback when it ships none.

        Raises ValueError when `tokenizer_config.json` is malformed or its template is invalid.
        """
        config = _read_config(Path(path) / CONFIG_FILE)
        source = _pick_template(config.get("chat_template"))
        template_file = Path(path) / TEMPLATE_FILE
        if source is None and template_file.is_file():
            source = template_file.read_text(encoding="utf-8")
        bos, eos = _token_text(config, "bos_token"), _token_text(config, "eos_token")
        return cls(source, bos_token=bos, eos_token=eos)

    @property
    def is_fallback(self) -> bool:
        """True when no model template exists and the plain format of the module doc is used."""
        return self._template is None

    def render(self, messages: list[dict[str, str]]) -> str:
        """The prompt for `messages`, ending with the cue for the assistant's reply."""
        _check_messages(messages)
        if self._template is None:
            lines = [f"{m['role']}: {m['content']}\n" for m in messages]
            return "".join(lines) + "assistant:"
        try:
            return self._template.render(
                messages=messages,
                add_generation_prompt=True,
                bos_token=self._bos_token,
                eos_token=self._eos_token,
            )
        except Exception as exc:  # a template is user code and may raise anything
            raise ValueError(f"chat template failed to render: {exc}") from exc


def _compile(source: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise_exception
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"chat template is not valid Jinja (line {exc.lineno}): {exc}") from exc


def _raise_exception(message: str) -> NoReturn:
    raise jinja2.TemplateError(message)


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(config).__name__}")
    return config


def _pick_template(value: object) -> str | None:
    """The template source from a config's `chat_template`: a string, or the "default" entry."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        named = {e.get("name"): e.get("template") for e in value if isinstance(e, dict)}
        if isinstance(named.get("default"), str):
            return named["default"]
        raise ValueError(f"chat_template list has no 'default' template; names: {list(named)}")
    raise ValueError(f"chat_template must be a string or a list, got {type(value).__name__}")


def _token_text(config: dict[str, Any], key: str) -> str:
    """A special token's text: a plain string, or a dict's "content"; "" when absent."""
    value = config.get(key)
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else ""


def _check_messages(messages: list[dict[str, str]]) -> None:
    if not messages:
        raise ValueError("messages must not be empty")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ValueError(f"messages[{i}] must be an object, got {type(message).__name__}")
        role = message.get("role")
        if role not in ROLES:
            raise ValueError(f"messages[{i}] has role {role!r}; expected one of {sorted(ROLES)}")
        if not isinstance(message.get("content"), str):
            raise ValueError(f"messages[{i}] ({role}) needs a string 'content'")
