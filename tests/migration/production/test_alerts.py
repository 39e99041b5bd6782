"""deploy/alerts.yml passes `promtool check rules` and its unit tests (deploy/alerts.test.yml)."""
from __future__ import annotations

import os
import subprocess

import pytest

from migration.production.tools import ToolError, ensure
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def promtool() -> str:
    try:
        return ensure(("promtool",), os.environ)["promtool"]
    except ToolError as error:
        pytest.skip(str(error))


def test_the_rules_are_valid(promtool: str) -> None:
    proc = subprocess.run([promtool, "check", "rules", "alerts.yml"], cwd=ROOT / "deploy", capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 3 rules found" in proc.stdout


def test_the_rule_tests_pass(promtool: str) -> None:
    proc = subprocess.run([promtool, "test", "rules", "alerts.test.yml"], cwd=ROOT / "deploy", capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
