"""The hand-written scans that replaced backtracking regexes give what the regexes gave.

The regexes took quadratic or cubic time on hostile input (a Run value of 8 KB of backticks:
seconds; 200k `(` in Dependencies: 24 s); the scans are linear (tests/gitops/test_bench.py).
Here hypothesis compares them with the regexes they replaced, on the characters that matter.
"""
from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitops.tasklist.fields import Unreadable, read_run, without_notes
from gitops.tasklist.markdown import without_anchor

_ANCHOR = re.compile(r"\s*\{#[^}]*\}\s*$")


def _regex_run(value: str) -> str:
    text = value.strip()
    if match := re.fullmatch(r"(`+)\s?(.*?)\s?\1", text, re.S):
        text = match.group(2).strip()
    return text


@given(st.text(alphabet="`a \n", max_size=40))
def test_run_value_without_its_code_span(value: str) -> None:
    expected = _regex_run(value)
    if not expected:
        with pytest.raises(Unreadable):
            read_run(value)
    else:
        assert read_run(value) == expected


@given(st.text(alphabet="()a ,", max_size=40))
def test_dependencies_without_notes(text: str) -> None:
    assert without_notes(text) == re.sub(r"\([^)]*\)", "", text)


@given(st.text(alphabet="{#}a \n", max_size=40))
def test_heading_without_anchor(text: str) -> None:
    assert without_anchor(text) == _ANCHOR.sub("", text)


def test_a_run_value_of_backticks_only_is_unreadable() -> None:
    with pytest.raises(Unreadable, match="write \\*\\*Run\\*\\*: `command`"):
        read_run("`" * 20_000)
