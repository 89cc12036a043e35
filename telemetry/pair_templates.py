"""Label templates: the fast path of `telemetry.text_values.scan_pairs` for batch lines.

A log repeats a handful of label sequences (the decode line, the prefill line), and only the
values change. Once a line whose parts are all plain `label: value` pairs has been read the slow
way, its labels (regex-escaped) are compiled into one regex that matches exactly that text with
new values: ` #running-req: 3, token usage: 0.21` gives

    ` #running-req: (NUMBER), token usage: (NUMBER)(?:,[ \t]*|[ \t]+)?`

A full match proves that splitting the text on `, ` and each part on `: ` gives these labels
and values that the plain path accepts (a value holds no space, `,`, `=` or `:`; labels hold no
`,` or `:`), so one C-level `fullmatch` replaces a Python loop over the parts. The value of a
numeric field (`telemetry.numeric_fields`) must look like a number (`12`, `-0.5`, `1e-05`,
`12.50%`), so that a template never hands on text for it; a line whose value is odd falls to the
slow path. The end may carry a comma and spaces (`#queue-req: 5,`, `#queue-req: 5, `).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from functools import lru_cache

from telemetry.log_record import FieldValue

_VALUE = r"([^ =:,]+)"  # what the plain path takes as a value: non-empty, no space , = :
_NUMBER = r"(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?%?)"  # what parse_value reads as a number
_SEPARATOR = ", "
_END = r"(?:,[ \t]*|[ \t]+)?"


class PairTemplates:
    """The label templates of the most recently learned lines, newest first. `read` mutates
    nothing; `learn` adds a template and drops the oldest beyond `size`."""

    def __init__(
        self, values: Mapping[str, FieldValue], numeric: AbstractSet[str], size: int = 8
    ) -> None:
        self._typed = values.__getitem__  # value text → typed value
        self._numeric = numeric  # keys whose value must be a number
        self._size = size
        self._recent: list[tuple[re.Pattern[str], tuple[str, ...]]] = []

    def read(self, text: str, pos: int) -> dict[str, FieldValue] | None:
        """The pairs of `text[pos:]` (values typed through the mapping given at construction)
        when a known template matches all of it, else None."""
        for pattern, keys in self._recent:
            match = pattern.fullmatch(text, pos)
            if match is not None:
                return dict(zip(keys, map(self._typed, match.groups()), strict=True))
        return None

    def learn(self, labels: Sequence[str], keys: Sequence[str]) -> None:
        """Remember the template of a text whose parts were all plain: `labels` as written
        (before `: `) and their normalised `keys`, in order."""
        numeric = tuple(key in self._numeric for key in keys)
        template = (_compile(tuple(labels), numeric), tuple(keys))
        if template in self._recent:
            return
        self._recent.insert(0, template)
        del self._recent[self._size :]


@lru_cache(maxsize=256)
def _compile(labels: tuple[str, ...], numeric: tuple[bool, ...]) -> re.Pattern[str]:
    body = _SEPARATOR.join(
        f"{re.escape(label)}: {_NUMBER if is_number else _VALUE}"
        for label, is_number in zip(labels, numeric, strict=True)
    )
    return re.compile(f"{body}{_END}")
