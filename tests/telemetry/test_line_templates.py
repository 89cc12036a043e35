"""The parser's fast path (whole-line and label templates, `telemetry.logs.pair_templates`)
against its general path (the same line read with every template cache empty): equal records,
value types included, for generated lines of every SGLang form, our text layout, and odd values
and ends."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.bench.log_lines import FORMATS
from telemetry.logs import text_values
from telemetry.logs.record import LogRecord
from telemetry.sglang import lines as sglang_lines
from telemetry.sglang.lines import LeakNumbers, NoRecord, read_text_line
from tests.telemetry.test_numeric_fields import ENDS, _sglang_lines

TEXT_FORMS = [layout for layout in FORMATS if layout != "poolscope_json"]
# Values that a template learned from a plain line must refuse or read exactly like the
# general path: signs, leading zeros, exponents, percents, words, 20-digit integers.
ODD_VALUES = ["-3", "-0.5", "007", "1e-05", "12.50%", "nan", "x12", "True", "5.", "1" * 20]


def _general(line: str) -> LogRecord | LeakNumbers | NoRecord:
    """The line read with every template forgotten: the split and regex path."""
    sglang_lines._LINE_FORMS.clear()
    text_values._TEMPLATES._recent.clear()
    return read_text_line(line)


def _typed(outcome: LogRecord | LeakNumbers | NoRecord) -> object:
    """The outcome with each field's type beside its value (True == 1 == 1.0 in Python)."""
    if not isinstance(outcome, LogRecord):
        return outcome
    fields = sorted((key, type(value).__name__, value) for key, value in outcome.fields.items())
    return outcome.event, outcome.source, outcome.timestamp, fields


def _learn(line: str) -> None:
    """Reads `line` with the caches empty and once more: the first read learns its label
    template, the second its whole-line template."""
    _general(line)
    read_text_line(line)


def _assert_fast_equals_general(learned_from: str, line: str) -> None:
    """Learns the templates of `learned_from`, then reads `line` (the fast path where a
    template matches) and compares with the general reading of `line`."""
    _learn(learned_from)
    fast = _typed(read_text_line(line))
    assert fast == _typed(_general(line)), (learned_from, line)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(TEXT_FORMS), st.integers(0, 2**32), st.integers(0, 999), st.booleans())
def test_every_bench_form_reads_the_same_through_its_template(
    layout: str, seed: int, index: int, is_bare: bool
) -> None:
    """A line of each benchmark form (five SGLang eras and our text layout), with its bracket
    or without, read through the template learned from another line of its form equals its
    general reading."""
    rng = random.Random(seed)
    first, line = FORMATS[layout](rng, index), FORMATS[layout](rng, index + 10)
    if is_bare:  # e.g. our text layout without a timestamp: ours by its kv part alone
        first, line = first.split("] ", 1)[-1], line.split("] ", 1)[-1]
    _learn(first)
    forms = sglang_lines._LINE_FORMS.pattern
    assert forms is not None and forms.fullmatch(line), "fast path unused"
    _assert_fast_equals_general(first, line)


@settings(max_examples=300, deadline=None)
@given(_sglang_lines(), _sglang_lines(), st.sampled_from(ENDS))
def test_generated_lines_read_the_same_fast_and_general(
    learned: tuple[str, str, list], read: tuple[str, str, list], end: str
) -> None:
    """Any generated batch line, read after the templates of another generated line were
    learned (the same form or not), equals its general reading."""
    _assert_fast_equals_general(learned[1], read[1] + end)
    _assert_fast_equals_general(read[1], read[1] + end)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TEXT_FORMS), st.integers(0, 2**32), st.sampled_from(ODD_VALUES), st.data())
def test_an_odd_value_reads_the_same_as_the_general_path(
    layout: str, seed: int, odd: str, data: st.DataObject
) -> None:
    """A learned form's line whose one value is replaced by an odd one (a sign, an exponent, a
    word, a huge integer) reads as the general path reads it."""
    rng = random.Random(seed)
    first, line = FORMATS[layout](rng, 1), FORMATS[layout](rng, 2)
    values = [i for i in range(len(line) - 1) if line[i : i + 2] == ": "]
    at = data.draw(st.sampled_from(values)) + 2
    stop = at
    while stop < len(line) and line[stop] not in ", ":
        stop += 1
    _assert_fast_equals_general(first, line[:at] + odd + line[stop:])


@settings(max_examples=100, deadline=None)
@given(st.lists(_sglang_lines(), min_size=2, max_size=12))
def test_many_learned_forms_read_each_line_through_its_own_branch(
    generated: list[tuple[str, str, list]],
) -> None:
    """With up to twelve forms learned at once (more than the cache holds), each line read
    afterwards equals its general reading: the branch that matched names the right reader."""
    lines = [line for _, line, _ in generated]
    general = [_typed(_general(line)) for line in lines]
    for line in lines:
        read_text_line(line)  # learns its label template
        read_text_line(line)  # and its branch of the whole-line regex
    assert [_typed(read_text_line(line)) for line in reversed(lines)] == general[::-1]
