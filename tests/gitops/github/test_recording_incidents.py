"""The incidents a task job (or a window's evaluation) hands over are opened on GitHub by its
recording job (through the stand-in): one labelled issue, found again by its marker on a second
recording, closed with its comment when the incident resolved."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gitops.forge.incidents import Incident
from gitops.forge.local import LocalForge
from gitops.handlers import Registry
from gitops.run import handover
from gitops.run.claims import claim
from gitops.run.recording import record
from gitops.run.runner import Runner
from gitops.run.windows import evaluate_due
from gitops.run.windows import record as record_windows
from gitops.state.git_store import GitStateStore
from gitops.state.handover_store import HandOverStore
from tests.gitops.github.conftest import make_forge
from tests.gitops.github.test_engine_github import NotesUI
from tests.gitops.builders import task, tasklist
from tests.gitops.run.test_recording import BRANCH, ENV, TASKS, checkout, remote, task_job  # noqa: F401
from tests.gitops.run.test_windows import Clock

FIRING = Incident("alert:AssistantHighErrorRate:v2", "AssistantHighErrorRate: v2", "it fires",
                  ("incident", "production"))


def hand_over(path: Path, *incidents: Incident) -> None:
    """The task job's hand-over, with the incidents its handler reported."""
    handed = handover.read(path, "1.1")
    handover.write(path, replace(handed, incidents=incidents))


def incident_issues(api) -> list[tuple[int, dict]]:
    """The issues labelled `incident` (the recording job also posts the progress issue)."""
    return [(n, i) for n, i in api.github.issues.items() if "incident" in i["labels"]]


def recording(remote: Path, environ: dict, name: str) -> tuple[Runner, GitStateStore]:
    root = checkout(remote, name)
    store = GitStateStore(root, "origin", BRANCH)
    runner = Runner(tasklist=TASKS, state_path=root / "state.json", root=root, work_dir=root / ".gitops",
                    forge=make_forge(environ), registry=Registry({}), ui=NotesUI(), environ={**ENV, **environ},
                    clock=lambda: "2026-12-04T00:00:00+00:00", store=store)
    return runner, store


def test_the_recording_job_opens_one_labelled_issue_and_a_second_recording_finds_it(remote, api, environ):
    path, _ = task_job(remote, "1.1")
    hand_over(path, FIRING)
    runner, store = recording(remote, environ, "record")
    assert record(runner, store, "1.1", path) == "Task 1.1 recorded: done"
    again, store = recording(remote, environ, "record-again")
    record(again, store, "1.1", path)
    again.open_incidents(handover.read(path, "1.1").incidents)  # a re-run of the recording job
    [(_, issue)] = incident_issues(api)
    assert issue["title"] == "AssistantHighErrorRate: v2" and issue["state"] == "open"
    assert issue["labels"] == ["incident", "production"]
    assert issue["body"].startswith("<!-- gitops:alert:AssistantHighErrorRate:v2 -->")


def test_a_resolved_incident_is_closed_with_its_comment(remote, api, environ):
    path, _ = task_job(remote, "1.1")
    hand_over(path, replace(FIRING, resolved="resolved: Prometheus no longer reports the alert firing"))
    runner, store = recording(remote, environ, "record")
    record(runner, store, "1.1", path)
    runner.open_incidents(handover.read(path, "1.1").incidents)  # closing twice leaves one comment
    [(number, issue)] = incident_issues(api)
    assert issue["state"] == "closed"
    assert [c["body"] for c in api.github.comments_on(number)] == [
        "resolved: Prometheus no longer reports the alert firing"]


def windows_job(remote: Path, name: str, clock: Clock, environ: dict | None = None) -> Runner:
    """A job of the windows workflow: with the stand-in's forge and token (`environ`), or handing over."""
    root = checkout(remote, name)
    store = GitStateStore(root, "origin", BRANCH)
    forge = make_forge(environ) if environ else LocalForge(root / ".gitops" / "forge")
    return Runner(tasklist=tasklist(task("1.1", criteria=1)), state_path=root / "state.json", root=root,
                  work_dir=root / ".gitops", forge=forge,
                  registry=Registry({"1.1": "tests.gitops.run.window_handlers:DRILLED"}), ui=NotesUI(),
                  environ={**ENV, **(environ or {})}, clock=clock, hands_over=environ is None, scheduled_windows=True,
                  store=store if environ else HandOverStore(store, root / ".gitops" / "handover" / "state.json"))


def test_record_windows_opens_and_closes_the_issue_an_evaluation_reported(remote, api, environ):
    clock = Clock()
    assert claim(windows_job(remote, "plan", clock, environ), ["1.1"]) == ["1.1"]
    opener = windows_job(remote, "task", clock)
    result = opener.execute("1.1", claimed=True)
    path = opener.root / "task.json"
    handover.write(path, handover.from_record("1.1", opener.current()["tasks"]["1.1"], result.updates, {},
                                              run=handover.run_of(opener.whoami)))
    recorder = windows_job(remote, "record", clock, environ)
    assert record(recorder, recorder.store, "1.1", path) == "Task 1.1 recorded: waiting"
    clock.now = "2026-11-25T01:00:00+00:00"
    evaluator = windows_job(remote, "evaluate", clock)
    folder = evaluator.root / ".gitops" / "windows"
    evaluate_due(evaluator, folder)
    assert not (evaluator.root / ".gitops" / "forge" / "issues").exists()  # no issue from the evaluate job
    recorder = windows_job(remote, "record-windows", clock, environ)
    assert [r.completed for r in record_windows(recorder, recorder.store, folder)] == [True]
    [(number, issue)] = incident_issues(api)
    assert (issue["title"], issue["labels"], issue["state"]) == ("Drill: v2", ["incident", "production"], "closed")
    assert [c["body"] for c in api.github.comments_on(number)] == ["resolved: it no longer fires"]
