"""A handler's time window: elapsed in the run locally; on a schedule (GitHub), a waiting task that
`evaluate_due` (gitops evaluate-windows) evaluates once its window has ended, on a fake clock."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops.errors import BadInput
from gitops.forge.local import LocalForge
from gitops.handlers import Registry
from gitops.plan.planner import StepKind
from gitops.run import handover
from gitops.run.outcome import EXIT_OK
from gitops.run.runner import Runner
from gitops.run.windows import evaluate_due, handover_name
from tests.gitops.builders import task, tasklist
from tests.gitops.test_bench import QuietUI

WATCHED = "tests.gitops.run.window_handlers:WATCHED"
FAILING = "tests.gitops.run.window_handlers:FAILING"
START = "2026-11-24T00:00:00+00:00"


class Clock:
    """The runner's clock, moved by the test: no sleep of a day."""

    def __init__(self, now: str = START):
        self.now = now

    def __call__(self) -> str:
        return self.now


def make(folder: Path, ref: str = WATCHED, scheduled: bool = True, clock: Clock | None = None,
         slept: list[float] | None = None, environ: dict[str, str] | None = None) -> Runner:
    tl = tasklist(task("1.1", criteria=1), task("1.2", deps=("1.1",), criteria=1))
    return Runner(
        tasklist=tl, state_path=folder / "state.json", root=folder, work_dir=folder / ".gitops",
        forge=LocalForge(folder / ".gitops" / "forge"), registry=Registry({"1.1": ref}), ui=QuietUI(),
        environ=environ or {}, clock=clock or Clock(), scheduled_windows=scheduled,
        sleep=(slept.append if slept is not None else lambda seconds: None),
    )


def calls(folder: Path) -> list[str]:
    path = folder / ".gitops" / "work" / "1.1" / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def state(folder: Path) -> dict:
    return json.loads((folder / "state.json").read_text())


def test_locally_the_window_elapses_in_the_run_and_the_pipeline_goes_on(tmp_path):
    slept: list[float] = []
    runner = make(tmp_path, scheduled=False, slept=slept)
    runner.registry = Registry({**runner.registry.refs, "1.2": WATCHED})
    outcome = runner.run("ada")
    assert (outcome.step.kind, outcome.ran) == (StepKind.FINISHED, ["1.1", "1.2"])
    assert slept == [2.0, 2.0]
    assert calls(tmp_path) == ["action", "evaluate"]
    record = state(tmp_path)["tasks"]["1.1"]
    assert (record["status"], "window" in record) == ("done", False)


def test_scheduled_the_task_waits_and_the_run_stops_without_waiting(tmp_path):
    slept: list[float] = []
    runner = make(tmp_path, slept=slept)
    outcome = runner.run("ada")
    assert (outcome.step.kind, outcome.exit_code, outcome.ran) == (StepKind.WAITING, EXIT_OK, ["1.1"])
    assert slept == [] and calls(tmp_path) == ["action"]
    record = state(tmp_path)["tasks"]["1.1"]
    assert record["status"] == "waiting"
    assert record["window"] == {"opened_at": START, "until": "2026-11-25T00:00:00+00:00", "evaluate": WATCHED,
                                "evaluated_at": None}
    assert state(tmp_path)["performance_metrics"] == {"opened": 1.0}  # the action's updates are kept


def test_evaluate_leaves_an_open_window_waiting_and_completes_an_ended_one(tmp_path):
    clock = Clock()
    runner = make(tmp_path, clock=clock)
    runner.run("ada")
    clock.now = "2026-11-24T23:00:00+00:00"
    evaluated = evaluate_due(runner)
    assert [(e.task, e.status) for e in evaluated] == [("1.1", "waiting")]
    assert calls(tmp_path) == ["action"]
    clock.now = "2026-11-25T00:00:01+00:00"
    assert [(e.task, e.status) for e in evaluate_due(runner)] == [("1.1", "done")]
    assert calls(tmp_path) == ["action", "evaluate"]
    after = state(tmp_path)
    assert after["tasks"]["1.1"]["window"]["evaluated_at"] == clock.now
    assert after["tasks"]["1.1"]["checks"][0]["status"] == "passed"
    assert after["performance_metrics"] == {"opened": 1.0, "window_error_rate": 0.0}
    assert runner.run("ada").ran == ["1.2"]  # the dependent runs now
    assert evaluate_due(runner) == []


def test_with_credentials_the_action_and_the_evaluation_run_apart_and_the_window_crosses_over(tmp_path):
    clock = Clock()
    runner = make(tmp_path, clock=clock, environ={"GITHUB_TOKEN": "ghs_secret", "PATH": "/usr/bin:/bin"})
    runner.run("ada")
    assert state(tmp_path)["tasks"]["1.1"]["window"]["until"] == "2026-11-25T00:00:00+00:00"
    clock.now = "2026-11-25T00:00:00+00:00"
    assert [e.status for e in evaluate_due(runner)] == ["done"]
    assert calls(tmp_path) == ["action", "evaluate"]


def test_a_failed_evaluation_opens_a_hotfix_as_any_failure(tmp_path):
    clock = Clock()
    runner = make(tmp_path, ref=FAILING, clock=clock)
    runner.run("ada")
    clock.now = "2026-11-26T00:00:00+00:00"
    assert [e.status for e in evaluate_due(runner)] == ["failed"]
    after = state(tmp_path)
    assert after["paused_by"] == "T-HotFix-1"
    assert after["hotfixes"][0]["error"] == "- criterion 1 of 1.1: error rate 0.3 over the window"
    assert after["hotfixes"][0]["issue"] == str(tmp_path / ".gitops" / "forge" / "issues" / "hotfix-1.1.md")


def test_a_job_without_the_write_token_hands_the_evaluation_over(tmp_path):
    clock = Clock()
    runner = make(tmp_path, clock=clock)
    runner.run("ada")
    clock.now = "2026-11-25T00:00:00+00:00"
    evaluate_due(runner, tmp_path / "handover")
    handed = handover.read(tmp_path / "handover" / handover_name("1.1"), "1.1")
    assert (handed.outcome, handed.after_attempt, handed.window) == (handover.FINISHED, 0, None)
    assert [c["status"] for c in handed.checks] == ["passed"]


def test_the_registrys_windows_must_name_registered_tasks(tmp_path, monkeypatch):
    (tmp_path / "bad_windows_registry.py").write_text('HANDLERS = {"6.2": "m:H"}\nWINDOWS = "6.2"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BadInput) as raised:
        Registry.from_module("bad_windows_registry")
    assert str(raised.value) == ("bad_windows_registry.WINDOWS must be a collection of task ids that HANDLERS names, "
                                 "e.g. ('6.2',); it is '6.2'. Fix it in the module.")
