"""Every dialect fixture through the command line (issue 13: `status --json` works on all of them),
and `gitops fmt` changes nothing that `status` shows."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitops.cli import main
from gitops.tasklist.parser import parse
from tests.conftest import DATA

FIXTURES = sorted((DATA / "dialects").glob("*.md"))


def status(folder: Path, fixture: Path, fmt: bool) -> dict:
    folder.mkdir()
    path = folder / fixture.name
    shutil.copy(fixture, path)
    base = ["--tasklist", str(path), "--state", str(folder / "state.json")]
    if fmt:
        assert CliRunner().invoke(main, [*base, "fmt"]).exit_code == 0
    result = CliRunner().invoke(main, [*base, "status", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_status_json_works_and_is_the_same_after_fmt(tmp_path, monkeypatch, fixture):
    monkeypatch.chdir(tmp_path)
    before = status(tmp_path / "as_written", fixture, fmt=False)
    after = status(tmp_path / "formatted", fixture, fmt=True)
    tasklist, _ = parse(fixture.read_text(encoding="utf-8"), fixture.name)
    assert before["progress"]["total"] == len(tasklist.tasks)
    # the paths of the two copies apart, status shows the same
    assert after.pop("tasklist") == str(tmp_path / "formatted" / fixture.name)
    assert after.pop("state") == str(tmp_path / "formatted" / "state.json")
    assert before.pop("tasklist") == str(tmp_path / "as_written" / fixture.name)
    assert before.pop("state") == str(tmp_path / "as_written" / "state.json")
    assert after == before
