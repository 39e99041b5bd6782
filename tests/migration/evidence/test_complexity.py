"""Complexity measurement with radon: what is summed, and the reduction arithmetic."""

from __future__ import annotations

import textwrap

import pytest

from migration.evidence.complexity import Complexity, measure, measure_all, reduction, total
from tests.conftest import ROOT

pytest.importorskip("radon")


def code(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def test_a_branch_adds_one_and_every_statement_is_a_logical_line() -> None:
    source = code('''
        def sign(x):
            """Sign of x."""
            if x < 0:
                return -1
            return 1
    ''')
    assert measure(source) == Complexity(cc=2, lloc=5, blocks=1)


def test_closures_are_counted_beside_the_function_around_them() -> None:
    source = code("""
        def outer(items):
            def keep(item):
                return item and item.ok
            return [i for i in items if keep(i)]
    """)
    # radon scores `outer` 3 (the comprehension's `for` and `if`) and `keep` 2 (the `and`), apart.
    assert measure(source) == Complexity(cc=5, lloc=4, blocks=2)


def test_methods_and_nested_classes_count_once_but_classes_themselves_do_not() -> None:
    source = code("""
        class A:
            def f(self):
                return 1
            class B:
                def g(self, x):
                    return x or 0
    """)
    assert measure(source) == Complexity(cc=3, lloc=6, blocks=2)


def test_comments_and_blank_lines_are_not_logical_lines() -> None:
    assert measure("# a comment\n\nx = 1\n").lloc == 1


def test_totals_add_up_and_reduction_is_percent_less() -> None:
    measured = measure_all({"a.py": "def f():\n    return 1\n", "b.py": "x = 1\n"})
    assert total(measured) == Complexity(cc=1, lloc=3, blocks=1)
    assert reduction(Complexity(100, 200, 9), Complexity(70, 150, 9)) == {"cc": 30.0, "lloc": 25.0}
    assert reduction(Complexity(69, 301, 28), Complexity(76, 369, 39)) == {"cc": -10.1, "lloc": -22.6}
    assert reduction(Complexity(0, 0, 0), Complexity(1, 1, 1)) == {"cc": 0.0, "lloc": 0.0}


def test_the_recorded_baseline_measures_cc_69_and_301_logical_lines() -> None:
    folder = ROOT / "tests" / "data" / "assertions_baseline"
    measured = measure_all({p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.py"))})
    assert {name: (c.cc, c.lloc) for name, c in measured.items()} == {
        "assertions.py": (43, 156),
        "qa.py": (9, 43),
        "role_refinement.py": (17, 102),
    }
    assert total(measured) == Complexity(cc=69, lloc=301, blocks=28)
