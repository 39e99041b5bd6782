"""The pytest plugin, run on a small test file by pytester: violations fail the test that made
them, with the article id; the exempt marker; the JSON report; the assistant suite's wiring."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from migration.constitution import pytest_plugin

pytest_plugins = ["pytester"]

# The plugin module is imported already (assertions in it are not rewritten: that is fine).
PLUGIN_ARGS = ("-p", "migration.constitution.pytest_plugin", "-p", "no:cacheprovider",
               "-W", "ignore::pytest.PytestAssertRewriteWarning")
TOKEN = "ghp_" + "Q1w2E3r4T5" * 4
INNER = f'''
import os

import dspy
import pytest

from migration.constitution import ConstitutionViolation, operation


class Echo(dspy.Module):
    """Answers with the question, from a one-passage context."""

    def forward(self, question):
        return dspy.Prediction(answer=question, context=["Water the tomatoes every morning."], sources=["README.md"])


Echo.__module__ = "assistant.echo"  # watched: defined under `assistant.`


def test_a_grounded_answer_passes():
    Echo()(question="Water the tomatoes every morning.")


def test_a_leaked_token_fails():
    Echo()(question="Roses love {TOKEN}")


@pytest.mark.constitution_exempt("O1", "O3", reason="shows that exempt articles are counted")
def test_an_exempt_article_does_not_fail():
    Echo()(question="Roses love {TOKEN}")


def test_deleting_state_json_is_refused():
    os.remove("state.json")


def test_a_swallowed_refusal_still_fails():
    try:
        operation("push", remote="origin", refspecs=["main"], force=True)
    except ConstitutionViolation:
        pass
'''


@pytest.fixture
def outcome(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[pytest.RunResult, dict, Path]:
    pytester.makeini("[pytest]\n")  # the rootdir, hence the guarded repository, is pytester's folder
    (pytester.path / "state.json").write_text("{}\n", encoding="utf-8")
    pytester.makepyfile(test_inner=INNER)
    report = pytester.path / "constitution.json"
    monkeypatch.setenv(pytest_plugin.REPORT_VARIABLE, str(report))
    monkeypatch.delenv(pytest_plugin.SWITCH_VARIABLE, raising=False)
    result = pytester.runpytest_inprocess(*PLUGIN_ARGS)
    return result, json.loads(report.read_text(encoding="utf-8")), pytester.path


def test_violations_fail_the_test_with_the_article_id(outcome) -> None:
    result, _, root = outcome
    result.assert_outcomes(passed=2, failed=3)
    out = result.stdout.str()
    assert "FAILED test_inner.py::test_a_leaked_token_fails" in out
    assert "Article O3 (No secrets in outputs) broken by the module output of assistant.echo.Echo" in out
    assert "Article O1 (Answers derive from the retrieved context)" in out
    assert "Article P1 (Protected files are never deleted) broken by the operation delete" in out
    assert "Article P3 (No force-push) broken by the operation push" in out
    assert TOKEN not in out  # the evidence is redacted
    assert (root / "state.json").exists()  # refused before it happened
    assert "constitution: 3 outputs of 1 assistant module(s)" in out


def test_the_report_counts_outputs_operations_and_violations(outcome) -> None:
    _, report, _ = outcome
    assert (report["tests"], report["tests_with_outputs"], report["outputs_checked"]) == (5, 3, 3)
    assert report["operations_checked"] >= 2 and report["modules"] == {"assistant.echo.Echo": 3}
    broken = {aid: a["violations"] for aid, a in report["articles"].items() if a["violations"]}
    assert broken == {"O1": 2, "O3": 2, "P1": 1, "P3": 1}  # the exempt test's violations are counted too
    assert report["articles"]["O1"]["applied"] == 3


def test_the_switch_turns_the_plugin_off(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_inner=INNER)
    monkeypatch.setenv(pytest_plugin.SWITCH_VARIABLE, "off")
    (pytester.path / "state.json").write_text("{}\n", encoding="utf-8")
    result = pytester.runpytest_inprocess(*PLUGIN_ARGS)
    result.assert_outcomes(passed=5)  # nothing judged: the token and the deletion go through


def test_the_assistant_suite_is_constitution_aware() -> None:
    from tests.assistant import conftest

    hooks = [name for name in dir(pytest_plugin) if name.startswith("pytest_")]
    assert hooks and all(getattr(conftest, name) is getattr(pytest_plugin, name) for name in hooks)
