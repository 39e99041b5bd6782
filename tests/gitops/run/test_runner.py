"""The runner with Python handlers and a recording forge: exceptions become HotFixes, forge
failures never lose a result and are sent again later."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from gitops.errors import WorkNotPushed
from gitops.forge.local import LocalForge
from gitops.handlers import Check, Handler, Registry
from gitops.plan.planner import StepKind
from gitops.run.runner import Runner
from gitops.state.store import LocalStore
from tests.gitops.builders import task, tasklist
from tests.gitops.test_bench import QuietUI


def explode(ctx):
    raise ValueError("the disk is full")


RAISING = Handler(action=explode, checks={})
PASSING = Handler(action=lambda ctx: None, checks={"criterion 1": lambda ctx: Check.passed("3 files measured", files=3)})


class FlakyForge(LocalForge):
    """A LocalForge whose first `fail` calls raise, like a GitHub outage."""

    def __init__(self, root: Path, fail: int):
        super().__init__(root)
        self.fail = fail
        self.calls: list[str] = []

    def open_issue(self, marker, title, body, labels):
        self.calls.append(marker)
        if self.fail:
            self.fail -= 1
            raise ConnectionError("forge unreachable")
        return super().open_issue(marker, title, body, labels)


def make(folder: Path, refs: dict[str, str], forge=None) -> Runner:
    tl = tasklist(task("1.1", criteria=1), task("1.2", criteria=1))
    return Runner(
        tasklist=tl,
        state_path=folder / "state.json",
        root=folder,
        work_dir=folder / ".gitops",
        forge=forge or LocalForge(folder / ".gitops" / "forge"),
        registry=Registry(refs),
        ui=QuietUI(),
        environ={},
        clock=lambda: "2026-11-24T00:00:00+00:00",
    )


def read(folder: Path) -> dict:
    return json.loads((folder / "state.json").read_text())


def test_an_exception_in_a_handler_becomes_a_hotfix_with_the_traceback(tmp_path):
    runner = make(tmp_path, {"1.1": "tests.gitops.run.test_runner:RAISING"})
    outcome = runner.run("ada")
    assert outcome.exit_code == 1 and outcome.step.kind.value == "paused"
    state = read(tmp_path)
    assert "ValueError: the disk is full" in state["tasks"]["1.1"]["error"]
    issue = (tmp_path / ".gitops" / "forge" / "issues" / "hotfix-1.1.md").read_text()
    assert "Traceback (most recent call last)" in issue and "ValueError: the disk is full" in issue


def test_a_handler_that_cannot_be_imported_is_a_task_failure(tmp_path):
    runner = make(tmp_path, {"1.1": "tests.gitops.no_such_module:HANDLER"})
    assert runner.run("ada").exit_code == 1
    error = read(tmp_path)["tasks"]["1.1"]["error"]
    assert error.startswith("the handler of Task 1.1 cannot be loaded:")
    assert "No module named 'tests.gitops.no_such_module'" in error


def test_check_metrics_are_recorded(tmp_path):
    runner = make(tmp_path, {"1.1": "tests.gitops.run.test_runner:PASSING", "1.2": "tests.gitops.run.test_runner:PASSING"})
    assert runner.run("ada").exit_code == 0
    check = read(tmp_path)["tasks"]["1.1"]["checks"][0]
    assert check == {"criterion": "criterion 1 of 1.1", "status": "passed", "evidence": "3 files measured", "metrics": {"files": 3}}


def test_a_forge_failure_keeps_the_result_and_the_issue_is_opened_on_the_next_command(tmp_path):
    forge = FlakyForge(tmp_path / "forge", fail=1)
    runner = make(tmp_path, {"1.1": "tests.gitops.run.test_runner:RAISING"}, forge)
    runner.run("ada")
    state = read(tmp_path)
    assert state["tasks"]["1.1"]["status"] == "failed"
    assert state["hotfixes"][0]["issue"] is None
    runner.run("ada")  # still paused, but the notice goes out now
    assert read(tmp_path)["hotfixes"][0]["issue"].endswith("hotfix-1.1.md")
    runner.run("ada")
    assert forge.calls == ["hotfix:1.1", "hotfix:1.1"]  # sent again once, never duplicated


class ConflictingStore(LocalStore):
    """A LocalStore whose first write of a finished task refuses, as GitStateStore does on a WorkConflict."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.refused = 0

    def update(self, change, create=None):
        def guarded(current):
            new = change(current)
            if not self.refused and any(t.get("finished_at") for t in new["tasks"].values()):
                self.refused += 1
                raise WorkNotPushed("origin/gitops/x/phase-1 changed README.md since this job began, and so did this task")
            return new

        return super().update(guarded, create)


def test_work_that_cannot_be_pushed_fails_the_task_and_the_state_says_why(tmp_path):
    runner = make(tmp_path, {"1.1": "tests.gitops.run.test_runner:PASSING"})
    runner.store = store = ConflictingStore(tmp_path / "state.json")
    result = runner.execute("1.1")
    assert store.refused == 1 and result.failed
    record = read(tmp_path)["tasks"]["1.1"]
    assert record["status"] == "failed" and record["error"].endswith("changed README.md since this job began, and so did this task")
    assert record["checks"][0]["status"] == "passed"  # what the task measured is kept
    assert (tmp_path / ".gitops" / "forge" / "issues" / "hotfix-1.1.md").exists()



def test_a_task_whose_set_up_fails_does_not_run_and_fails_with_the_reason(tmp_path):
    runner = make(tmp_path, {"1.1": "tests.gitops.run.test_runner:RAISING"})  # would raise if it ran

    def prepare():
        raise WorkNotPushed("origin/gitops/x/phase-1 does not merge into this checkout: both changed README.md")

    runner.prepare = prepare
    result = runner.execute("1.1")
    record = read(tmp_path)["tasks"]["1.1"]
    assert result.failed and record["status"] == "failed"
    assert record["error"] == ("the task did not start: origin/gitops/x/phase-1 does not merge into this checkout: "
                               "both changed README.md")
    assert [c["status"] for c in record["checks"]] == ["skipped"]
    assert (tmp_path / ".gitops" / "forge" / "issues" / "hotfix-1.1.md").exists()
    runner.prepare = lambda: "merged origin/gitops/x/phase-1"
    assert runner.retry("1.1").exit_code == 1 and "ValueError: the disk is full" in read(tmp_path)["tasks"]["1.1"]["error"]


class CountingStore(LocalStore):
    """A LocalStore that counts writes: on GitHub each one is a commit and a push."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.writes = 0

    def update(self, change, create=None):
        self.writes += 1
        return super().update(change, create)


class RecordingTracker:
    def __init__(self):
        self.seen: list[tuple[str, str]] = []

    def log_task(self, tasklist, task_id, state, result, seconds):
        self.seen.append((task_id, state["tasks"][task_id]["status"]))
        return f"run-{len(self.seen)}"

    def close(self, state):
        pass


def test_a_tracked_task_is_recorded_in_one_write_per_transition(tmp_path):
    runner = make(tmp_path, {"1.1": "tests.gitops.run.test_runner:PASSING"})
    runner.store = store = CountingStore(tmp_path / "state.json")
    runner.tracker = tracker = RecordingTracker()
    runner.execute("1.1")
    assert store.writes == 2  # started, finished (with its MLflow run id)
    assert tracker.seen == [("1.1", "done")]  # the tracker saw the result the state records
    assert read(tmp_path)["tasks"]["1.1"]["mlflow_run_id"] == "run-1"


def test_work_that_cannot_be_pushed_is_tracked_again_as_the_failure_the_state_records(tmp_path):
    runner = make(tmp_path, {"1.1": "tests.gitops.run.test_runner:PASSING"})
    runner.store = ConflictingStore(tmp_path / "state.json")
    runner.tracker = tracker = RecordingTracker()
    runner.execute("1.1")
    assert tracker.seen == [("1.1", "done"), ("1.1", "failed")]
    assert read(tmp_path)["tasks"]["1.1"]["mlflow_run_id"] == "run-2"


class WatchedForge(LocalForge):
    """A LocalForge that records each progress comment and phase PR it is given."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.posts: list[tuple[str, str]] = []

    def upsert_comment(self, marker, body):
        self.posts.append((marker, body))
        return super().upsert_comment(marker, body)

    def open_phase_pr(self, phase, title, body):
        self.posts.append((f"pr:{phase}", body))
        return super().open_phase_pr(phase, title, body)


def test_a_run_posts_its_progress_where_it_waits_or_ends_not_after_every_task(tmp_path):
    """The comment lists every task: posted after each one, a task's cost grew with the list."""
    forge = WatchedForge(tmp_path / ".gitops" / "forge")
    tl = tasklist(*(task(f"1.{i}", criteria=1) for i in range(1, 6)), task("2.1", criteria=1), task("2.2", criteria=1))
    runner = replace(make(tmp_path, {}, forge), tasklist=tl,
                     registry=Registry({t: "tests.gitops.run.test_runner:PASSING" for t in tl.tasks}))
    outcome = runner.run("ana", auto_approve=True)
    assert outcome.step.kind.value == "finished" and len(outcome.ran) == 7
    # Phase 1's end (its PR and comment, before phase-2 is approved), then the run's end.
    assert [marker for marker, _ in forge.posts] == ["pr:1", "phase:1", "pr:2", "phase:2"]
    phase_1_end = forge.posts[1][1]
    assert "1.5" in phase_1_end and "phase-2" in phase_1_end
    assert forge.posts[-1][1].count("✅") >= 7  # the last one shows every task done


def test_a_run_that_stops_at_a_failure_posts_its_progress_once(tmp_path):
    forge = WatchedForge(tmp_path / ".gitops" / "forge")
    runner = make(tmp_path, {"1.1": "tests.gitops.run.test_runner:PASSING",
                             "1.2": "tests.gitops.run.test_runner:RAISING"}, forge)
    assert runner.run("ana").step.kind.value == "paused"
    assert [marker for marker, _ in forge.posts] == ["phase:1"]
    assert "T-HotFix-1" in forge.posts[0][1]


class ReviewedForge(LocalForge):
    """A LocalForge whose phase PRs a reviewer can close without merging, and reopen."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.closed: set[int] = set()

    def phase_rejected(self, phase):
        return phase in self.closed


def test_a_phase_pr_closed_unmerged_rejects_the_next_phase_and_reopening_it_undoes_that(tmp_path):
    forge = ReviewedForge(tmp_path / ".gitops" / "forge")
    tl = tasklist(task("1.1", criteria=1), task("2.1", criteria=1))
    runner = replace(make(tmp_path, {}, forge), tasklist=tl,
                     registry=Registry({t: "tests.gitops.run.test_runner:PASSING" for t in tl.tasks}))
    assert runner.run("ana").step.gate == "phase-2"  # waits for Phase 1's PR
    forge.closed.add(1)
    step = runner.report()
    assert step.kind.value == "rejected" and step.gate == "phase-2"
    assert read(tmp_path)["gates"]["phase-2"]["status"] == "rejected"
    assert "Phase 2 is rejected and does not start" in step.message
    assert runner.run("ana", auto_approve=True).exit_code == 1  # nothing runs, whatever is asked
    assert read(tmp_path)["tasks"]["2.1"]["status"] == "pending"
    forge.closed.clear()
    assert runner.report().kind.value == "gate" and read(tmp_path)["gates"]["phase-2"]["status"] == "pending"
    assert runner.run("ana", auto_approve=True).step.kind.value == "finished"


def test_a_retry_recorded_for_a_workflow_job_exits_0_whatever_stops_the_pipeline_elsewhere(tmp_path):
    """On GitHub the plan job records the retry (`execute=False`) and the task's job runs it: another
    task's open HotFix must not fail the plan job that recorded it."""
    refs = {"1.1": "tests.gitops.run.test_runner:RAISING", "1.2": "tests.gitops.run.test_runner:RAISING"}
    runner = make(tmp_path, refs)
    runner.run("ada")  # 1.1 fails: HotFix 1, paused
    state = read(tmp_path)
    # 1.2 failed too, in a job of the same workflow run (claimed before the pause): HotFix 2.
    state["tasks"]["1.2"] = {**state["tasks"]["1.1"], "checks": []}
    state["hotfixes"].append({**state["hotfixes"][0], "id": "T-HotFix-2", "task": "1.2"})
    (tmp_path / "state.json").write_text(json.dumps(state))
    outcome = runner.retry("1.2", execute=False)  # 1.2 fixed; 1.1 still waits for its fix
    assert (outcome.step.kind, outcome.step.task) == (StepKind.PAUSED, "1.1")
    assert (outcome.exit_code, outcome.ran) == (0, [])
    assert read(tmp_path)["tasks"]["1.2"]["status"] == "pending"
