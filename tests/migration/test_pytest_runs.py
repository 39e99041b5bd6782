"""Running pytest in a subprocess and reading its JUnit XML."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from migration.environments.pytest_run import read_junit, start_all, wait_all

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="5">
<testcase classname="tests.assistant.test_qa" name="test_answers" time="0.1"/>
<testcase classname="tests.assistant.test_qa.TestRoles" name="test_role[coder]" time="0.1">
  <failure message="constitution: 1 violation(s) during call">details</failure></testcase>
<testcase classname="tests.migration.test_x" name="test_setup" time="0"><error message="fixture broke"/></testcase>
<testcase classname="tests.migration.test_x" name="test_later" time="0"><skipped message="not today"/></testcase>
<testcase classname="test_inner" name="test_top" time="0"/>
</testsuite></testsuites>
"""


def test_junit_cases_get_pytest_ids_and_outcomes(tmp_path: Path) -> None:
    (tmp_path / "j.xml").write_text(JUNIT, encoding="utf-8")
    cases = read_junit(tmp_path / "j.xml")
    assert [(c.id, c.outcome) for c in cases] == [
        ("tests/assistant/test_qa.py::test_answers", "passed"),
        ("tests/assistant/test_qa.py::TestRoles::test_role[coder]", "failed"),
        ("tests/migration/test_x.py::test_setup", "error"),
        ("tests/migration/test_x.py::test_later", "skipped"),
        ("test_inner.py::test_top", "passed"),
    ]
    assert cases[1].message == "constitution: 1 violation(s) during call"


@pytest.mark.slow
def test_runs_start_together_and_are_read_back(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text("import os\n\ndef test_a():\n    assert os.environ['EXTRA'] == '1'\n\n"
                                        "def test_b():\n    assert False\n", encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "EXTRA": "0"}
    runs = wait_all(start_all({"one": ["test_a.py"], "two": ["test_a.py::test_a"]}, tmp_path, work, env, {"two": {"EXTRA": "1"}}))
    assert runs["one"].counts() == {"passed": 0, "failed": 2, "error": 0, "skipped": 0}
    assert runs["two"].summary() == "1 passed" and runs["two"].returncode == 0
    assert [c.id for c in runs["one"].not_passed()] == ["test_a.py::test_a", "test_a.py::test_b"]
    assert runs["one"].log.read_text(encoding="utf-8").count("FAILED") == 2
