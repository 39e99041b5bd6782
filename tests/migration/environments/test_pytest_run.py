"""Running pytest in a subprocess and reading its JUnit XML."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from migration.environments.pytest_run import PytestRun, read_junit, run_pytest

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


def test_a_record_counts_and_names_failures_as_junit_names_them(tmp_path: Path) -> None:
    (tmp_path / "j.xml").write_text("""<?xml version="1.0"?><testsuites><testsuite name="pytest">
      <testcase classname="tests.assistant.test_qa" name="test_ok"/>
      <testcase classname="tests.assistant.test_qa" name="test_bad"><failure message="assert 1 == 2">trace</failure></testcase>
      <testcase classname="tests.assistant.test_app" name="test_err"><error message="fixture broke"/></testcase>
      <testcase classname="tests.assistant.test_app" name="test_skip"><skipped message="no"/></testcase>
    </testsuite></testsuites>""", encoding="utf-8")
    run = PytestRun(("pytest",), 1, 0.1, "", "", read_junit(tmp_path / "j.xml"), True)
    assert run.as_record() == {
        "tests": 4, "passed": 1, "skipped": 1,
        "failed": ["tests.assistant.test_qa::test_bad", "tests.assistant.test_app::test_err"],
        "messages": {"tests.assistant.test_qa::test_bad": "assert 1 == 2", "tests.assistant.test_app::test_err": "fixture broke"},
    }


@pytest.mark.slow
def test_runs_in_the_engine_s_interpreter_side_by_side_and_are_read_back(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text("import os\n\ndef test_a():\n    assert os.environ['EXTRA'] == '1'\n\n"
                                        "def test_b():\n    assert False\n", encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "EXTRA": "0"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        one = pool.submit(run_pytest, ["test_a.py"], work / "one.xml", root=tmp_path, environ=env)
        two = pool.submit(run_pytest, ["test_a.py::test_a"], work / "two.xml", root=tmp_path, environ={**env, "EXTRA": "1"})
        runs = {"one": one.result(), "two": two.result()}
    assert runs["one"].counts() == {"passed": 0, "failed": 2, "error": 0, "skipped": 0}
    assert runs["two"].summary() == "1 passed" and runs["two"].returncode == 0 and runs["two"].reported
    assert [c.id for c in runs["one"].not_passed()] == ["test_a.py::test_a", "test_a.py::test_b"]
    assert runs["one"].stdout.count("FAILED") == 2


def test_without_a_junit_report_there_are_no_cases(tmp_path: Path) -> None:
    run = run_pytest(["--version"], None, root=tmp_path)
    assert run.returncode == 0 and run.cases == () and not run.reported
