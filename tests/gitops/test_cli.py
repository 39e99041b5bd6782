"""`gitops` end to end on task lists made of **Run** tasks (tests/data): checkpoints, HotFix and
pause, retry, halt at 2, resume; exit codes and messages of DESIGN §6."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitops.cli import main
from tests.conftest import DATA


class Gitops:
    """Runs `gitops` in-process in a folder holding a copy of one task list."""

    def __init__(self, folder: Path, tasklist: str):
        self.folder = folder
        self.tasklist = folder / tasklist
        shutil.copy(DATA / tasklist, self.tasklist)

    @property
    def state_path(self) -> Path:
        return self.folder / "state.json"

    def __call__(self, *args: str, code: int | None = 0) -> str:
        result = CliRunner().invoke(
            main, ["--tasklist", str(self.tasklist), "--state", str(self.state_path), *args], catch_exceptions=False
        )
        output = result.output + (result.stderr if result.stderr_bytes else "")
        if code is not None:
            assert result.exit_code == code, output
        return output

    def state(self) -> dict:
        return json.loads(self.state_path.read_text())

    def issue(self, task_id: str) -> str:
        return (self.folder / ".gitops" / "forge" / "issues" / f"hotfix-{task_id}.md").read_text()


@pytest.fixture
def site(tmp_path, monkeypatch) -> Gitops:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITOPS_APPROVER", "ada")
    return Gitops(tmp_path, "run_pipeline.md")


def test_checkpoint_stops_a_run_without_a_terminal_and_prints_the_approve_command(site):
    out = site("run")
    assert "🛑 Stopped at gate 1.2: Site checked. Proceed to publishing?" in out
    assert "gitops approve 1.2" in out
    state = site.state()
    assert state["tasks"]["1.1"]["status"] == "done"
    assert state["tasks"]["1.2"]["status"] == "awaiting_approval"
    assert state["gates"]["1.2"]["status"] == "pending"
    assert (site.folder / "out" / "index.html").exists()
    out = site("approve", "1.2")
    assert "Gate 1.2 approved by ada." in out
    out = site("run")
    assert "Stopped at gate phase-2" in out and "gitops approve phase-2" in out


def test_failure_hotfix_pause_retry_halt_resume(site):
    out = site("run", "--auto-approve", code=1)
    assert "✗ failed Task 2.1" in out
    state = site.state()
    assert state["completed_tasks"] == ["1.1", "1.2"]
    assert state["gates"]["1.2"]["approved_by"] == "ada (--auto-approve)"
    assert state["paused_by"] == "T-HotFix-1" and state["tasks"]["2.1"]["status"] == "failed"
    issue = site.issue("2.1")
    assert issue.startswith("# T-HotFix-1 Fix Task 2.1: Publish\n\n**State**: open\n**Labels**: hotfix, task:2.1")
    assert "**Depends on**: Task 2.1" in issue and "exited 1" in issue
    assert state["hotfixes"][0]["issue"].endswith("issues/hotfix-2.1.md")

    out = site("run", "--auto-approve", code=1)
    assert "paused by T-HotFix-1" in out and "gitops retry 2.1" in out

    out = site("retry", "2.1", code=1)  # not fixed yet: the second failure in a row halts
    state = site.state()
    assert state["halted"]["reason"] == "2 consecutive failures (safety rule: stop execution after 2)"
    assert [h["status"] for h in state["hotfixes"]] == ["resolved", "open"]
    assert "T-HotFix-2 Fix Task 2.1" in site.issue("2.1")  # the same issue, updated

    out = site("retry", "2.1", code=1)
    assert "error: The pipeline is halted" in out and 'gitops resume --reason "..."' in out
    out = site("run", code=1)
    assert "The pipeline is halted" in out

    out = site("resume", "--reason", "publish.ok was missing on the runner")
    assert "Halt cleared." in out and "gitops retry 2.1" in out
    (site.folder / "publish.ok").write_text("")
    out = site("retry", "2.1")
    state = site.state()
    assert state["tasks"]["2.1"]["status"] == "done" and state["tasks"]["2.1"]["attempts"] == 3
    assert "**State**: closed" in site.issue("2.1")
    assert "Task 2.1 passed on attempt 3." in site.issue("2.1")

    out = site("run", "--auto-approve")
    assert "All 4 tasks are done." in out
    state = site.state()
    assert state["completed_count"] == 4 and state["current_task"] is None and state["current_phase"] is None
    assert (site.folder / "announced.txt").exists()


def test_a_task_needing_a_person_stops_auto_approve_until_signed_off(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gitops = Gitops(tmp_path, "run_manual.md")
    out = gitops("run", "--auto-approve")
    assert "Task 1.2 needs a person to sign off 1 manual criterion at its checkpoint." in out
    assert "[ ] The partner confirmed the fingerprint" in out
    assert "gitops approve 1.2 --by NAME" in out
    assert gitops.state()["tasks"]["1.3"]["status"] == "pending"
    gitops("approve", "1.2", "--by", "grace")
    out = gitops("run", "--auto-approve")
    assert "All 3 tasks are done." in out
    checks = gitops.state()["tasks"]["1.2"]["checks"]
    assert [(c["status"], c["approved_by"]) for c in checks] == [("manual", "grace")]


def test_safety_rules_and_production_approval(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gitops = Gitops(tmp_path, "run_deploy.md")
    plan = json.loads(gitops("plan", "--json"))
    by_id = {t["id"]: t for t in plan["tasks"]}
    assert by_id["1.1"]["checkpoint"] == [
        "safety rule: Critical priority tasks require human approval",
        "safety rule: database work always pauses for human review",
    ]
    assert by_id["2.1"]["production_approval"] is True
    assert plan["next"]["kind"] == "run" and plan["next"]["task"] == "1.1"
    assert not gitops.state_path.exists()  # plan changes nothing
    out = gitops("run")
    assert "Stopped at gate 1.1" in out
    gitops("approve", "1.1", "--by", "dba")
    out = gitops("run")
    assert "Stopped at gate phase-2" in out
    gitops("approve", "phase-2", "--by", "lead")
    out = gitops("run")
    assert "Task 2.1 deploys to production: approve deploy-2.1 before it runs." in out
    gitops("approve", "deploy-2.1", "--by", "ops")
    assert "All 2 tasks are done." in gitops("run")


def test_run_until_and_only(site):
    out = site("run", "--until", "1.1")
    assert "Stopped after Task 1.1 (--until)." in out
    assert site.state()["tasks"]["1.2"]["status"] == "pending"
    out = site("run", "--only", "2.1", code=2)
    assert "error: Task 2.1 cannot run now: its dependency Task 1.2 is pending." in out
    site("run", "--only", "1.2")
    assert site.state()["tasks"]["1.2"]["status"] == "awaiting_approval"


def test_run_task_executes_one_ready_task(site):
    site("run-task", "1.1")
    assert site.state()["tasks"]["1.1"]["status"] == "done"
    out = site("run-task", "9.9", code=2)
    assert "has no Task 9.9. Tasks: 1.1, 1.2, 2.1, 2.2." in out


def test_status_json_is_stable_and_shows_the_next_step(site):
    site("run")
    doc = json.loads(site("status", "--json"))
    assert doc["progress"] == {"done": 1, "percent": 25, "total": 4}
    assert doc["next"]["command"] == "gitops approve 1.2"
    assert [t["status"] for t in doc["tasks"]] == ["done", "awaiting_approval", "pending", "pending"]
    assert {g["name"] for g in doc["quality_gates"]} >= {"Tests Passing", "Code Review Completed"}
    text = site("status")
    assert "1/4 tasks done (25%)" in text and "Gates waiting: 1.2" in text


def test_status_outputs_are_the_plan_jobs_step_outputs(site):
    assert site("status", "--outputs") == (
        'current_phase=1\nphase_gate=\ndone=[]\npending=["1.1","1.2","2.1","2.2"]\nawaiting=[]\nproceed=true\n')
    site("run")
    site("approve", "1.2")
    site("run")  # stops at the phase-2 gate: nothing may start until it is approved
    assert site("status", "--outputs") == (
        'current_phase=2\nphase_gate=pending\ndone=["1.1","1.2"]\npending=["2.1","2.2"]\nawaiting=[]\nproceed=false\n')
    site("approve", "phase-2")
    site("run", code=1)  # 2.1 fails: paused by its HotFix
    assert site("status", "--outputs").splitlines()[1:] == [
        "phase_gate=approved", 'done=["1.1","1.2"]', 'pending=["2.2"]', "awaiting=[]", "proceed=false"]


def test_lint_exit_codes_and_cycle(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gitops = Gitops(tmp_path, "cycle.md")
    out = gitops("lint", str(gitops.tasklist), code=1)
    assert "dependency cycle: Task 1.1 -> Task 1.2 -> Task 1.1" in out
    out = gitops("status", code=2)
    assert "error in the task list" in out or "error(s) in the task list" in out


def test_corrupt_state_is_an_error_naming_file_and_key_and_is_left_alone(site):
    site("run", "--until", "1.1")
    text = site.state_path.read_text().replace('"status": "done"', '"status": "finishd"', 1)
    site.state_path.write_text(text)
    out = site("status", code=2)
    assert str(site.state_path) in out and "finishd" in out and "Traceback" not in out
    out = site("run", code=2)
    assert site.state_path.read_text() == text


def test_a_missing_task_list_is_bad_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["--tasklist", "nope.md", "status"])
    assert result.exit_code == 2
    assert "nope.md" in result.output and "Traceback" not in result.output


def test_state_of_another_task_list_is_refused(site, tmp_path):
    site("run", "--until", "1.1")
    other = Gitops(tmp_path, "run_manual.md")
    result = CliRunner().invoke(main, ["--tasklist", str(other.tasklist), "--state", str(site.state_path), "status"])
    assert result.exit_code == 2
    assert "records the run of run_pipeline.md, not run_manual.md" in result.output


def test_on_github_recover_fails_a_task_left_running_by_an_earlier_run_and_spares_this_runs(site, monkeypatch):
    from gitops.state import file as state_io
    from gitops.state.document import own_record

    site("run", "--until", "1.1")

    def left_running_by_run_6(state: dict) -> dict:
        runner = {"host": "runner-a", "pid": 9, "process": None, "github_run_id": "6", "github_run_attempt": "1"}
        own_record(state, "1.2").update(status="running", attempts=1, runner=runner)
        return state

    state_io.update(site.state_path, left_running_by_run_6)
    out = site("status")  # outside the workflow: not decided
    assert ("Next: Task 1.2 is marked running and runs in workflow run 6 (attempt 1): the workflow's next run "
            "records it as failed if that run ended (gitops cannot tell from outside the workflow).") in out
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_RUN_ID", "6")
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "1")
    assert "No running task has lost its runner." in site("recover")  # a job of this very run
    assert site.state()["tasks"]["1.2"]["status"] == "running"
    monkeypatch.setenv("GITHUB_RUN_ID", "7")
    out = site("recover")
    reason = ("its runner is gone: workflow run 6 (attempt 1) ended while the task ran (cancelled, timed out or its "
              "runner was lost); workflow runs never overlap, and run 7 (attempt 1) runs now")
    assert f"Task 1.2 was marked running, but {reason}: recording it as failed." in out
    assert "T-HotFix-1 opened: " in out
    state = site.state()
    assert (state["tasks"]["1.2"]["status"], state["tasks"]["1.2"]["error"], state["paused_by"]) == (
        "failed", reason, "T-HotFix-1")
    assert site.issue("1.2").startswith("# T-HotFix-1 Fix Task 1.2")


def test_render_writes_the_workflow_and_check_finds_it_in_sync(site):
    target = site.folder / ".github" / "workflows" / "run_pipeline.yml"
    assert site("render") == f"{target}: written\n"
    assert site("render", "--check") == f"{target}: in sync with run_pipeline.md\n"


def test_a_done_task_whose_criteria_changed_is_shown_stale_and_reruns_only_when_asked(site):
    site("run", "--until", "1.1")
    text = site.tasklist.read_text()
    # Rewording the header and another task's title does not make Task 1.1 stale ...
    site.tasklist.write_text(text.replace("# Process Task List: Release a static site", "# Release the site")
                             .replace("#### Task 1.2: Check the links", "#### Task 1.2: Check every link"))
    assert json.loads(site("status", "--json"))["stale"] == []
    # ... changing its criteria does.
    site.tasklist.write_text(site.tasklist.read_text().replace(
        "- [ ] out/index.html exists", "- [ ] out/index.html exists and has a heading"))
    doc = json.loads(site("status", "--json"))
    assert doc["stale"] == ["1.1"] and doc["tasks"][0]["stale"] is True
    assert ("Stale: 1.1: done, but their steps or criteria changed since they ran. Re-run them with "
            "`gitops run --rerun-stale` (or `gitops retry ID`), or leave them done.") in " ".join(site("status").split())
    site("run", "--until", "1.1")  # a plain run leaves it done
    assert site.state()["tasks"]["1.1"]["attempts"] == 1
    out = site("run", "--until", "1.1", "--rerun-stale")
    assert "↻ Task 1.1: its steps or criteria changed since it ran; it runs again." in out
    assert site.state()["tasks"]["1.1"]["attempts"] == 2
    assert json.loads(site("status", "--json"))["stale"] == []


def test_a_task_the_list_marks_done_starts_done_and_is_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "list.md").write_text(
        "# Marked\n\n## Phase 1: Work\n\n"
        "### Task 1.1: Done before the pipeline ✅ COMPLETED\n**Dependencies**: None\n**Run**: `false`\n\n"
        "**Done when**:\n- [x] it was done by hand\n\n"
        "### Task 1.2: Still to do\n**Dependencies**: Task 1.1\n**Status**: [ ]\n**Run**: `true`\n\n"
        "**Done when**:\n- [ ] ran\n",
        encoding="utf-8",
    )
    args = ["--tasklist", "list.md", "--state", "state.json"]
    doc = json.loads(CliRunner().invoke(main, [*args, "status", "--json"]).output)
    assert [(t["id"], t["status"], t["checks"]) for t in doc["tasks"]] == [("1.1", "done", {}), ("1.2", "pending", {})]
    result = CliRunner().invoke(main, [*args, "run"])
    assert result.exit_code == 0, result.output
    state = json.loads((tmp_path / "state.json").read_text())
    assert [state["tasks"][t]["attempts"] for t in ("1.1", "1.2")] == [0, 1]  # `false` never ran
    assert state["tasks"]["1.2"]["status"] == "done"
