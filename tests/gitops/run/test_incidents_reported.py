"""A handler reports incidents through ctx.incidents and the engine opens them in its forge:
at once in its own process (the handler gets the issue's path), after the task when the handler
ran apart (credentials in the environment), redacted either way."""
from __future__ import annotations

import json
import os

from gitops.forge.local import LocalForge
from tests.gitops.run.test_task_env import ENGINE_ENV, TOKEN, record, runner

MARKER = "alert:Drill:v2"


def told_a_path(folder) -> bool:
    return json.loads((folder / "state.json").read_text())["performance_metrics"] == {"told": 1}


def test_a_handler_apart_reports_and_the_engine_opens_and_closes_the_issue_redacted(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)  # the handler runs in a process of its own
    r = runner(tmp_path, {"1.1": "tests.gitops.run.apart_handlers:REPORTS"}, environ={**ENGINE_ENV, "LEAK": TOKEN})
    r.run("ana")
    assert record(tmp_path)["error"] is None and not told_a_path(tmp_path)
    forge = LocalForge(tmp_path / ".gitops" / "forge")
    text = (tmp_path / ".gitops" / "forge" / "issues" / "alert-Drill-v2.md").read_text()
    assert forge.issue_state(MARKER) == "closed" and TOKEN not in text and "token ***" in text
    assert "**Labels**: incident, production" in text and "resolved: it no longer fires" in text
    assert any(note.startswith(f"incident {MARKER}: ") for note in r.ui.notes)


def test_in_the_engines_process_the_handler_is_told_where_the_issue_is(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("GITHUB_TOKEN", "GH_", "GIT_CONFIG", "ACTIONS_")):
            monkeypatch.delenv(name)
    r = runner(tmp_path, {"1.1": "tests.gitops.run.apart_handlers:REPORTS"}, environ={"PLAIN": "kept"})
    r.run("ana")
    assert told_a_path(tmp_path)
    assert LocalForge(tmp_path / ".gitops" / "forge").issue_state(MARKER) == "closed"


def test_a_task_job_that_hands_over_opens_nothing_itself(tmp_path, monkeypatch):
    r = runner(tmp_path, {"1.1": "tests.gitops.run.apart_handlers:REPORTS"}, environ={"PLAIN": "kept"})
    r.hands_over = True
    result = r.execute("1.1")
    assert [i.marker for i in result.incidents] == [MARKER] and result.incidents[0].resolved
    assert not (tmp_path / ".gitops" / "forge" / "issues").exists()
