"""The `key: value` / `key=value` grammar of human log lines, shared by our text layout (which
writes it) and the log parser (which reads it), so that what one writes the other reads back.

Keys are normalised the same way for SGLang's labels and ours: `#running-req` → `running_req`,
`gen throughput (token/s)` → `gen_throughput`, `self.max_total_num_tokens` → `max_total_num_tokens`,
`cuda graph` → `graph`. Values: integral text → int, other numbers → float, `True`/`False` → bool,
`NN.NN%` → a fraction (12.50% → 0.125), `"..."` → the JSON-decoded string, anything else → the text.
A bare value ends at whitespace or a comma, so `#queue-req: 5,` at the end of a line reads as 5.
A field of `telemetry.logs.numeric_fields` whose value is no number is left out: a number or
nothing.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import orjson

from telemetry.logs.numeric_fields import NUMERIC_FIELDS, REPEATING_FIELDS, is_number
from telemetry.logs.pair_templates import PairTemplates
from telemetry.logs.record import FieldValue

_NUMBER = re.compile(r"-?\d+(\.\d*)?([eE][-+]?\d+)?")
_UNIT = re.compile(r"\([^)]*\)")
_SEPARATORS = re.compile(r"[\s\-]+")
_RENAMES = {"cuda_graph": "graph"}

# A bare (unquoted) value: no whitespace and none of , = : " so the scanner knows where it ends.
_BARE_CHARS = r"[^\s,=:\"]"
_BARE = re.compile(rf"(?![\[{{]){_BARE_CHARS}+")
_END = r"(?=[\s,]|$)"
_KEY = re.compile(r"#?[A-Za-z_][\w .#/()\-]*")
# One pair: the key (SGLang labels have spaces, `#`, hyphens and a `(unit)`), `:` or `=`, and a
# value: an int or a plain decimal (own groups, the common case, typed without a second match),
# else a JSON string, a flat `{...}`/`[...]` (a Python set or list, spaces allowed: SGLang's
# `leaked_mamba_pages={3, 17}`), a compact JSON object/list (orjson writes no spaces) or bare
# text. A value
# must end at whitespace, a comma or the end, so `Warning: available_size=10` reads as
# available_size=10, not as warning="available_size".
_PAIR = re.compile(
    r"(?<![\w#.\-/])(#?[A-Za-z_][\w .#/()\-]*?)[ \t]*[:=][ \t]*"
    rf"(?:(-?\d+){_END}|(-?\d+\.\d*){_END}"
    rf"|(\"(?:[^\"\\]|\\.)*\"|\{{[^{{}}]*\}}{_END}|\[[^\[\]]*\]{_END}"
    rf"|[\[{{]\S*?(?=,?(?:\s|$))|{_BARE_CHARS}+{_END}))"
)


@lru_cache(maxsize=4096)
def normalise_key(label: str) -> str:
    """The field name for a label: units in parentheses, `#` and `self.` dropped, lower case,
    runs of spaces and hyphens turned into `_`; `cuda graph` becomes `graph`."""
    key = _UNIT.sub("", label).replace("#", "").strip().lower()
    while key.startswith("self."):
        key = key[len("self.") :]
    key = _SEPARATORS.sub("_", key)
    return _RENAMES.get(key, key)


def parse_value(text: str) -> FieldValue:
    """The typed value of one value token (see the module docstring); never raises."""
    if text.isdecimal():
        return int(text)
    if text.replace(".", "", 1).isdecimal():
        return float(text)
    number = _NUMBER.fullmatch(text)
    if number is not None:
        if number.group(1) is None and number.group(2) is None:
            return int(text)
        return float(text)
    if text == "True" or text == "False":
        return text == "True"
    if text.endswith("%"):
        percent = _NUMBER.fullmatch(text[:-1])
        if percent is not None:
            decimals = len(percent.group(1) or ".") - 1
            return round(float(text[:-1]) / 100.0, decimals + 2)
    if text.startswith('"'):
        try:
            decoded = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
        return decoded if isinstance(decoded, str) else text
    return text


def scan_pairs(text: str, pos: int = 0) -> dict[str, FieldValue]:
    """Every `key: value` and `key=value` pair in `text[pos:]`, keys normalised and values typed,
    in order (a later repeat of a key wins). Text that is no pair is passed over; never raises.

    NOTE: the common `label: value, label: value` text is split on `, ` (several times faster than
    the regex), and once seen its labels become a template (`telemetry.logs.pair_templates`) that
    reads the next such line in one match; a part that is no plain `label: value` pair, and any
    text with quotes or JSON, is read by the regex, which is the reference grammar."""
    if '"' in text or "{" in text:
        return _scan_regex(text, pos)
    known = _TEMPLATES.read(text, pos)
    if known is not None:
        return known
    parts = text[pos:].split(", ")
    if parts[-1] == "":  # SGLang's comma form ends with `, `; an empty part holds no pair
        parts.pop()
    return _numbers_only(_scan_parts(parts))


def _scan_parts(parts: list[str]) -> dict[str, FieldValue]:
    """The pairs of the parts of a text; learns the text's template when all parts are plain."""
    pairs: dict[str, FieldValue] = {}
    labels: list[str] = []
    keys: list[str] = []
    values: list[str] = []
    for part in parts:
        label, colon, value = part.partition(": ")
        key = _plain_key(label) if colon else None
        if key is not None and value and _is_plain_value(value):
            pairs[key] = _VALUES[value]
            labels.append(label)
            keys.append(key)
            values.append(value)
        elif part:
            pairs.update(_scan_regex(part, 0))
    if labels and len(labels) == len(parts):
        _TEMPLATES.learn(labels, keys, values)
    return pairs


def _is_plain_value(value: str) -> bool:
    """What the split path takes as a whole value; the rest goes to the regex (`5,` at the end
    of a line, `5 ` before trailing spaces, a value with `=` or `:`)."""
    return " " not in value and "," not in value and "=" not in value and ":" not in value


def _scan_regex(text: str, pos: int) -> dict[str, FieldValue]:
    return _numbers_only(
        {
            normalise_key(key): _typed(whole, decimal, other)
            for key, whole, decimal, other in _PAIR.findall(text, pos)
        }
    )


def _numbers_only(pairs: dict[str, FieldValue]) -> dict[str, FieldValue]:
    """`pairs` without the numeric fields whose value is no number (mutated and returned)."""
    odd = [k for k, v in pairs.items() if k in NUMERIC_FIELDS and not is_number(v)]
    for key in odd:
        del pairs[key]
    return pairs


class _ValueMemo(dict[str, FieldValue]):
    """parse_value, memoised: a log repeats most value texts (usages, small counts, `True`), and
    a dict hit costs no Python call. Cleared when full, so memory stays bounded."""

    def __missing__(self, text: str) -> FieldValue:
        if len(self) >= _MEMO_SIZE:
            self.clear()
        # a miss is mostly a fresh count or rate: parse_value's first two cases, without a call
        if text.isdecimal():
            value = self[text] = int(text)
        elif text.replace(".", "", 1).isdecimal():
            value = self[text] = float(text)
        else:
            value = self[text] = parse_value(text)
        return value


_MEMO_SIZE = 1 << 16
_VALUES = _ValueMemo()
_TEMPLATES = PairTemplates(_VALUES, NUMERIC_FIELDS, REPEATING_FIELDS)
TEMPLATES = _TEMPLATES  # the batch lines' label templates, for whole-line templates


def _typed(whole: str, decimal: str, other: str) -> FieldValue:
    """The value of one _PAIR match, from whichever of its three value groups matched."""
    if whole:
        return int(whole)
    return float(decimal) if decimal else parse_value(other)


@lru_cache(maxsize=4096)
def _plain_key(label: str) -> str | None:
    """The normalised key of a label that the regex would read as a whole key, else None."""
    label = label.strip()
    return normalise_key(label) if _KEY.fullmatch(label) else None


def format_value(value: Any) -> str:
    """`value` as a token that `parse_value` reads back equal: bools and numbers as Python
    prints them, strings bare when they are unambiguous and JSON-quoted otherwise, anything else
    (dicts, lists, None) as compact JSON."""
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, str):
        if _BARE.fullmatch(value) and parse_value(value) == value:
            return value
        return orjson.dumps(value).decode()
    return compact_json(value)


def compact_json(value: Any) -> str:
    """Compact JSON for a value that is no scalar (also what the parser keeps for such values);
    what JSON cannot hold is written with str(), so this never raises."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()
    except TypeError:  # e.g. an int beyond 64 bits
        return json.dumps(value, separators=(",", ":"), default=str)
