"""Label templates: the fast path of `telemetry.logs.text_values.scan_pairs` for batch lines.

A log repeats a handful of label sequences (the decode line, the prefill line), and only the
values change. Once a line whose parts are all plain `label: value` pairs has been read the slow
way, its labels (regex-escaped) are compiled into one regex that matches exactly that text with
new values: ` #running-req: 3, token usage: 0.21, cuda graph: True` gives

    ` #running-req: (-?\\d+), token usage: (-?\\d+\\.\\d*), cuda graph: ([^ =:,]+)` + END

A full match proves that splitting the text on `, ` and each part on `: ` gives these labels
and values that the plain path accepts (a value holds no space, `,`, `=` or `:`; labels hold no
`,` or `:`), so one C-level `fullmatch` replaces a Python loop over the parts. END lets the line
end in a comma and spaces (`#queue-req: 5,`, `#queue-req: 5, `).

Each value's group is typed by the line the template was learned from: an integer (`812`) or a
decimal (`0.50`) there must be one again, and is converted by `int`/`float` in C, without a
Python call per value, unless its field's values repeat (usages, request counts: the value
memo's C-level hit is cheaper); other numbers (`12.50%`, `1e-05`) and text go through the memo. So
a numeric field (`telemetry.logs.numeric_fields`) never gets text from a template: a line whose
value is odd fails the match and falls to the slow path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from functools import lru_cache
from operator import itemgetter

from telemetry.logs.record import FieldValue

_INT, _FLOAT, _NUMBER, _TEXT = "int", "float", "number", "text"
_GROUPS = {
    _INT: r"(-?\d+)",
    _FLOAT: r"(-?\d+\.\d*)",
    _NUMBER: r"(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?%?)",  # what parse_value reads as a number
    _TEXT: r"([^ =:,]+)",  # what the plain path takes as a value: no space , = :
}
_INT_TEXT = re.compile(_GROUPS[_INT])
_FLOAT_TEXT = re.compile(_GROUPS[_FLOAT])
_SEPARATOR = ", "
_END = r"(?:,[ \t]*|[ \t]+)?"
Groups = tuple[str, ...]


# A template's reader: (int keys, their getter, float keys, getter, other keys, getter). The
# pairs come int fields first, then decimals, then the rest (a dict: order carries no meaning).
_Reader = tuple[
    tuple[str, ...], Callable[[Groups], tuple[str, ...]],
    tuple[str, ...], Callable[[Groups], tuple[str, ...]],
    tuple[str, ...], Callable[[Groups], tuple[str, ...]],
]  # fmt: skip


# labels, keys, kinds (the group of each value), memo (whether a value goes through the memo)
Spec = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[bool, ...]]
Template = tuple[re.Pattern[str], _Reader]


class PairTemplates:
    """The label templates of the most recently learned lines, the last one read first. `read`
    moves the template it used to the front and keeps its spec in `last_hit` (for a caller
    that compiles whole-line templates with `with_prefix`); `learn` adds a template and drops
    the oldest beyond `size`."""

    def __init__(
        self, values: Mapping[str, FieldValue], numeric: AbstractSet[str],
        repeating: AbstractSet[str] = frozenset(), size: int = 8,
    ) -> None:  # fmt: skip
        self.typed = values.__getitem__  # value text → typed value
        self._numeric = numeric  # keys whose value must be a number
        self._repeating = repeating  # keys whose values repeat: typed through the memo
        self._size = size
        self._recent: list[tuple[re.Pattern[str], _Reader, Spec]] = []
        self.last_hit: Spec | None = None

    def read(self, text: str, pos: int) -> dict[str, FieldValue] | None:
        """The pairs of `text[pos:]` (values typed as the module docstring says) when a known
        template matches all of it, else None."""
        recent = self._recent
        for index, (pattern, reader, spec) in enumerate(recent):
            match = pattern.fullmatch(text, pos)
            if match is not None:
                if index:  # a log mixes forms in runs: keep the one in use first
                    recent.insert(0, recent.pop(index))
                self.last_hit = spec
                return read_groups(reader, match.groups(), self.typed)
        self.last_hit = None
        return None

    def learn(self, labels: Sequence[str], keys: Sequence[str], values: Sequence[str]) -> None:
        """Remember the template of a text whose parts were all plain: `labels` as written
        (before `: `), their normalised `keys` and the `values` as written, in order."""
        kinds = tuple(self._kind(key, value) for key, value in zip(keys, values, strict=True))
        memo = tuple(key in self._repeating for key in keys)
        spec = (tuple(labels), tuple(keys), kinds, memo)
        if any(known == spec for _, _, known in self._recent):
            return
        self._recent.insert(0, (*_compile(*spec, "", 0), spec))
        del self._recent[self._size :]

    def _kind(self, key: str, value: str) -> str:
        if _INT_TEXT.fullmatch(value):
            return _INT
        if _FLOAT_TEXT.fullmatch(value):
            return _FLOAT
        return _NUMBER if key in self._numeric else _TEXT


def with_prefix(spec: Spec, prefix: str, num_prefix_groups: int) -> Template:
    """The template `spec` behind the regex `prefix` (which has `num_prefix_groups` groups): one
    fullmatch reads a whole line; the reader skips the prefix's groups."""
    return _compile(*spec, prefix, num_prefix_groups)


def read_groups(
    reader: _Reader, groups: Groups, typed: Callable[[str], FieldValue]
) -> dict[str, FieldValue]:
    """The typed pairs of a template match's `groups`."""
    int_keys, ints, float_keys, floats, other_keys, others = reader
    # NOTE: zip without strict: a getter may repeat its one group (see _getter)
    pairs: dict[str, FieldValue] = (
        dict(zip(other_keys, map(typed, others(groups)))) if other_keys else {}  # noqa: B905
    )
    if int_keys:
        pairs.update(zip(int_keys, map(int, ints(groups))))  # noqa: B905
    if float_keys:
        pairs.update(zip(float_keys, map(float, floats(groups))))  # noqa: B905
    return pairs


@lru_cache(maxsize=256)
def _compile(
    labels: tuple[str, ...], keys: tuple[str, ...], kinds: tuple[str, ...],
    memo: tuple[bool, ...], prefix: str, offset: int,
) -> Template:  # fmt: skip
    body = _SEPARATOR.join(
        f"{re.escape(label)}: {_GROUPS[kind]}" for label, kind in zip(labels, kinds, strict=True)
    )
    routes = tuple(
        _TEXT if is_memo or kind == _NUMBER else kind
        for kind, is_memo in zip(kinds, memo, strict=True)
    )
    reader: _Reader = (
        *_getter(keys, routes, (_INT,), offset),
        *_getter(keys, routes, (_FLOAT,), offset),
        *_getter(keys, routes, (_TEXT,), offset),
    )
    return re.compile(f"{prefix}{body}{_END}"), reader


def _getter(
    keys: tuple[str, ...], kinds: tuple[str, ...], wanted: tuple[str, ...], offset: int
) -> tuple[tuple[str, ...], Callable[[Groups], tuple[str, ...]]]:
    """The keys of the groups of the `wanted` kinds, and a C-level getter of those groups (the
    first `offset` groups belong to a prefix)."""
    indices = [offset + i for i, kind in enumerate(kinds) if kind in wanted]
    names = tuple(keys[i - offset] for i in indices)
    if not indices:
        return names, lambda groups: ()  # never called: read_groups skips empty key tuples
    # itemgetter of one index gives no tuple: ask for it twice (zip stops at the one name)
    return names, itemgetter(*indices, *indices[:1]) if len(indices) < 2 else itemgetter(*indices)
