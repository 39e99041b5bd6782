"""`gitops evaluate-windows` and `gitops status` on a state holding a task that waits for its window."""
from __future__ import annotations

import json

import pytest

from tests.gitops.test_cli import Gitops


@pytest.fixture
def site(tmp_path, monkeypatch) -> Gitops:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITOPS_TRACKING", "off")
    site = Gitops(tmp_path, "run_pipeline.md")
    site("run", "--until", "1.1")
    return site


def waiting(site: Gitops, until: str) -> None:
    """Task 1.1 as a windows workflow's recording job leaves it: waiting until `until`."""
    state = site.state()
    state["tasks"]["1.1"].update(status="waiting", window={"opened_at": "2026-11-24T00:00:00+00:00", "until": until,
                                                           "evaluate": "x:HANDLER", "evaluated_at": None})
    site.state_path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")


def test_an_open_window_is_shown_with_its_end_and_left_waiting(site):
    waiting(site, "2999-01-01T00:00:00+00:00")
    status = " ".join(site("status").split())
    assert ("Next: Task 1.1 waits for its window to end at 2999-01-01T00:00:00+00:00; then `gitops evaluate-windows` "
            "evaluates it") in status
    doc = json.loads(site("status", "--json"))
    assert (doc["tasks"][0]["status"], doc["tasks"][0]["window_until"]) == ("waiting", "2999-01-01T00:00:00+00:00")
    out = site("evaluate-windows")
    assert "Task 1.1 waits for its window to end at 2999-01-01T00:00:00+00:00" in " ".join(out.split())
    assert site.state()["tasks"]["1.1"]["status"] == "waiting"


def test_an_ended_window_without_a_handler_to_evaluate_it_fails_with_a_hotfix(site):
    waiting(site, "2020-01-01T00:00:00+00:00")
    site("evaluate-windows", code=1)
    state = site.state()
    assert state["tasks"]["1.1"]["status"] == "failed"
    assert state["tasks"]["1.1"]["error"] == ("Task 1.1 waits for a window, but the handler registry has no handler "
                                              "for it to evaluate the window with; register it again, or retry the task")
    assert state["paused_by"] == "T-HotFix-1"


def test_nothing_waits(site):
    assert "No task waits for a window." in site("evaluate-windows")


def test_due_windows_says_whose_window_ended_as_a_step_output_and_changes_nothing(site):
    waiting(site, "2999-01-01T00:00:00+00:00")
    assert "due=false" in site("due-windows", "--outputs").splitlines()
    waiting(site, "2020-01-01T00:00:00+00:00")
    before = site.state()
    out = site("due-windows", "--outputs")
    assert "due=true" in out.splitlines() and "due=false" not in out.splitlines()
    assert "Task 1.1: its window ended at 2020-01-01T00:00:00+00:00; its evaluation is due." in " ".join(out.split())
    assert site.state() == before


def test_due_windows_with_nothing_waiting(site):
    assert "No task waits for a window." in site("due-windows")


def test_a_rejected_evaluation_is_shown_not_evaluated_and_a_retry_asks_again(site):
    waiting(site, "2020-01-01T00:00:00+00:00")
    state = site.state()
    state["tasks"]["1.1"]["window"]["rejected"] = {"by": "bob", "comment": "not now", "at": "2020-01-01T02:00:00+00:00"}
    site.state_path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    said = ('Task 1.1 was not evaluated: the production review of its window\'s evaluation was rejected by bob '
            '("not now"). It keeps waiting and is not evaluated until someone asks again: `gitops retry 1.1`.')
    assert f"Next: {said}" in " ".join(site("status").split())
    assert json.loads(site("status", "--json"))["tasks"][0]["window_rejected_by"] == "bob"
    out = site("due-windows", "--outputs")
    assert "due=false" in out.splitlines() and said in " ".join(out.split())
    assert said in " ".join(site("evaluate-windows").split())  # nothing evaluated
    assert site.state()["tasks"]["1.1"]["window"]["rejected"]["by"] == "bob"
    site("retry", "1.1")
    assert "rejected" not in site.state()["tasks"]["1.1"]["window"]
    assert "due=true" in site("due-windows", "--outputs").splitlines()
