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
decimal (`0.50`) there must be one again (signed only if it was), converted by `int`/`float`,
unless its field's values repeat (usages, request counts: the value memo's dict hit is cheaper);
other numbers (`12.50%`, `1e-05`) and text go through the memo. So a numeric field
(`telemetry.logs.numeric_fields`) never gets text from a template: a line whose value is odd fails
the match and falls to the slow path.

NOTE: a template's reader is generated Python source, one dict display per template
(`{'running_req': memo[g[9]], 'full_token': int(g[10]), ...}`), compiled once: it costs about
half the instructions of a generic loop over the groups (map/zip/itemgetter), which was the
largest part of reading the common line (`poolscope bench parser`). Keys enter the source only
through repr() and indices only as ints, so no log text can become code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet

from telemetry.logs.record import FieldValue

_INT, _FLOAT, _NUMBER, _TEXT = "int", "float", "number", "text"
_UINT, _UFLOAT = "uint", "ufloat"  # learned without a sign: one regex repeat less per value
_GROUPS = {
    _UINT: r"(\d+)",
    _UFLOAT: r"(\d+\.\d*)",
    _INT: r"(-?\d+)",
    _FLOAT: r"(-?\d+\.\d*)",
    _NUMBER: r"(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?%?)",  # what parse_value reads as a number
    _TEXT: r"([^ =:,]+)",  # what the plain path takes as a value: no space , = :
}
_INT_TEXT = re.compile(_GROUPS[_INT])
_FLOAT_TEXT = re.compile(_GROUPS[_FLOAT])
_SEPARATOR = ", "
_END = r"(?:,[ \t]*|[ \t]+|)"  # a branch: cheaper in re than an optional group
Groups = tuple[str, ...]


# A template's reader: the match's groups → the typed pairs (a later repeat of a key wins).
Reader = Callable[[Groups], dict[str, FieldValue]]


# labels, keys, shapes (the group of each value), memo (whether a value goes through the memo)
Spec = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[bool, ...]]
Template = tuple[re.Pattern[str], Reader]


class PairTemplates:
    """The label templates of the most recently learned lines, the last one read first. `read`
    moves the template it used to the front and keeps its spec in `last_hit` (for a caller
    that compiles whole-line templates with `with_prefix`); `learn` adds a template and drops
    the oldest beyond `size`."""

    def __init__(
        self, values: Mapping[str, FieldValue], numeric: AbstractSet[str],
        repeating: AbstractSet[str] = frozenset(), size: int = 8,
    ) -> None:
        self._values = values  # the value memo: value text → typed value
        self._numeric = numeric  # keys whose value must be a number
        self._repeating = repeating  # keys whose values repeat: typed through the memo
        self._size = size
        self._recent: list[tuple[re.Pattern[str], Reader, Spec]] = []
        self._compiled: dict[tuple[Spec, int], tuple[str, Reader]] = {}
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
                return reader(match.groups())
        self.last_hit = None
        return None

    def learn(self, labels: Sequence[str], keys: Sequence[str], values: Sequence[str]) -> None:
        """Remember the template of a text whose parts were all plain: `labels` as written
        (before `: `), their normalised `keys` and the `values` as written, in order."""
        shapes = tuple(self._shape(key, value) for key, value in zip(keys, values, strict=True))
        memo = tuple(key in self._repeating for key in keys)
        spec = (tuple(labels), tuple(keys), shapes, memo)
        if any(known == spec for _, _, known in self._recent):
            return
        self._recent.insert(0, (*self.with_prefix(spec, "", 0), spec))
        del self._recent[self._size :]

    def with_prefix(self, spec: Spec, prefix: str, num_prefix_groups: int) -> Template:
        """The template `spec` behind the regex `prefix` (which has `num_prefix_groups` groups):
        one fullmatch reads a whole line; the reader skips the prefix's groups."""
        text, reader = self.branch(spec, num_prefix_groups)
        return re.compile(f"{prefix}{text}"), reader

    def branch(self, spec: Spec, num_groups_before: int) -> tuple[str, Reader]:
        """The regex text of the template `spec` (one group per value) and the reader of a
        match in which `num_groups_before` groups come before its first. Cached: a log repeats
        a handful of forms, and the cache is cleared when full."""
        key = (spec, num_groups_before)
        branch = self._compiled.get(key)
        if branch is None:
            if len(self._compiled) >= _CACHE_SIZE:
                self._compiled.clear()
            branch = self._compiled[key] = _branch(spec, num_groups_before, self._values)
        return branch

    def _shape(self, key: str, value: str) -> str:
        if _INT_TEXT.fullmatch(value):
            return _INT if value[0] == "-" else _UINT
        if _FLOAT_TEXT.fullmatch(value):
            return _FLOAT if value[0] == "-" else _UFLOAT
        return _NUMBER if key in self._numeric else _TEXT


_CACHE_SIZE = 256


def _branch(spec: Spec, offset: int, values: Mapping[str, FieldValue]) -> tuple[str, Reader]:
    labels, keys, shapes, memo = spec
    body = _SEPARATOR.join(
        f"{re.escape(label)}: {_GROUPS[shape]}" for label, shape in zip(labels, shapes, strict=True)
    )
    routes = (
        _TEXT if is_memo or shape == _NUMBER else shape
        for shape, is_memo in zip(shapes, memo, strict=True)
    )
    items = ", ".join(
        f"{key!r}: {_CONVERSIONS[route].format(offset + index)}"
        for index, (key, route) in enumerate(zip(keys, routes, strict=True))
    )
    return f"{body}{_END}", _reader(items, values)


# how a value's group is typed: a conversion in C, or a lookup in the value memo
_CONVERSIONS = {_TEXT: "memo[g[{:d}]]"}
_CONVERSIONS.update(dict.fromkeys((_INT, _UINT), "int(g[{:d}])"))
_CONVERSIONS.update(dict.fromkeys((_FLOAT, _UFLOAT), "float(g[{:d}])"))


def _reader(items: str, values: Mapping[str, FieldValue]) -> Reader:
    """The reader whose dict display holds `items` (`'key': int(g[9]), ...`)."""
    namespace: dict[str, object] = {"memo": values}
    exec(f"def read(g):\n    return {{{items}}}\n", namespace)  # see the module's NOTE
    return namespace["read"]  # type: ignore[return-value]
