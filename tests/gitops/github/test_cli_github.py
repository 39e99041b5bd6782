"""`gitops --forge github ...` and `gitops setup-github` in-process against the stand-in."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitops.cli import main
from gitops.config import load_config
from gitops.wiring import Context
from tests.conftest import DATA, ROOT
from tests.gitops.github.conftest import actions_environ

TUNING = {"GITOPS_GITHUB_PACE": "0", "GITOPS_GITHUB_BACKOFF": "0", "GITOPS_GITHUB_RETRIES": "1",
          "GITOPS_GITHUB_TIMEOUT": "5"}


@pytest.fixture
def site(api, tmp_path, monkeypatch) -> Path:
    """A folder with the run_pipeline task list as B-1006.md (project b-1006), in a workflow job."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(DATA / "run_pipeline.md", tmp_path / "B-1006.md")
    for name, value in {**actions_environ(api, tmp_path), **TUNING}.items():
        monkeypatch.setenv(name, value)
    # A checkout of main with a bare remote: --forge github commits state.json to the phase branch.
    remote = tmp_path.parent / f"{tmp_path.name}-origin.git"
    git = lambda *args: subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "start")
    git("remote", "add", "origin", str(remote))
    git("push", "-q", "origin", "main")
    return tmp_path


def branch_state(site: Path, branch: str = "gitops/b-1006/phase-1") -> dict:
    subprocess.run(["git", "fetch", "-q", "origin"], cwd=site, check=True)
    shown = subprocess.run(["git", "show", f"origin/{branch}:state.json"], cwd=site, capture_output=True, text=True, check=True)
    return json.loads(shown.stdout)


def gitops(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["--tasklist", "B-1006.md", "--state", "state.json", *args],
                                catch_exceptions=False)
    output = result.output + (result.stderr if result.stderr_bytes else "")
    assert result.exit_code == code, output
    return output


def test_in_a_workflow_state_goes_to_the_phase_branch_the_report_posts_and_the_gate_records(api, site):
    out = gitops("--forge", "github", "run")
    assert "Stopped at gate 1.2" in out
    assert branch_state(site)["tasks"]["1.2"]["status"] == "awaiting_approval"
    assert not api.github.comments  # task jobs leave the PR alone: the report job posts
    gitops("--forge", "github", "report")
    progress = [c["body"] for c in api.github.comments.values()]
    assert len(progress) == 1 and progress[0].startswith("<!-- gitops:phase:1 -->\n## ")
    assert "approves the `b-1006-checkpoint-1-2` environment" in progress[0]  # what the task job's report says
    api.github.environments["b-1006-checkpoint-1-2"] = {"id": 500, "wait_timer": 0, "reviewers": [("User", 1)],
                                                    "prevent_self_review": False, "created_at": "", "updated_at": ""}
    api.github.add_run(77, ".github/workflows/b-1006.yml")
    api.github.runs[77]["approvals"].append({"state": "approved", "comment": "", "user": api.github.user("ada"),
                                             "environments": [api.github.environment("b-1006-checkpoint-1-2")]})
    gitops("--forge", "github", "approve", "1.2", "--recorded")
    gate = branch_state(site)["gates"]["1.2"]
    assert (gate["status"], gate["approved_by"]) == ("approved", "ada")
    assert "Gate 1.2 was already approved by ada." in gitops("--forge", "github", "approve", "1.2", "--recorded")


def test_from_a_terminal_approve_approves_the_waiting_deployment(api, site, monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS")
    monkeypatch.delenv("GITHUB_RUN_ID")
    monkeypatch.setenv("GITHUB_TOKEN", "token-ada")
    api.github.environments["b-1006-checkpoint-1-2"] = {"id": 500, "wait_timer": 0, "reviewers": [("User", 1)],
                                                    "prevent_self_review": False, "created_at": "", "updated_at": ""}
    api.github.add_run(90, ".github/workflows/b-1006.yml", waiting_for=("b-1006-checkpoint-1-2",))
    out = gitops("--forge", "github", "approve", "1.2", "--by", "ada")
    assert out == (f"Approved gate 1.2: the run continues ({api.url}/octo/pipeline/actions/runs/90); its gate job "
                   "records the approval in state.json.\n")
    assert api.github.runs[90]["status"] == "in_progress"
    assert not (site / "state.json").exists()


def test_approve_as_somebody_who_is_not_a_reviewer_exits_1_with_what_to_do(api, site, monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS")
    monkeypatch.setenv("GITHUB_TOKEN", "token-bob")
    api.github.environments["production"] = {"id": 600, "wait_timer": 0, "reviewers": [("User", 1)],
                                             "prevent_self_review": False, "created_at": "", "updated_at": ""}
    api.github.add_run(77, ".github/workflows/b-1006.yml", waiting_for=("production",))
    out = gitops("--forge", "github", "approve", "deploy-2.1", "--run-id", "77", code=1)
    assert out.startswith("error: The token's user may not approve environment production: it is not one of "
                          "its required reviewers (ada).")


def test_setup_github_twice_leaves_the_same_state(api, site, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "token-ada")  # a repository admin's token
    first = gitops("setup-github", "--reviewer", "ada", "--reviewer", "octo/reviewers")
    assert first.splitlines()[:3] == [
        "environment b-1006-checkpoint-1-2: created, 2 required reviewer(s), self-review prevented, "
        "deploys from main only",
        "ruleset 'gitops state branches': created (gitops/** cannot be force-pushed or deleted)",
        "labels: 8 created (hotfix, gitops, incident, production, task:1.1, task:1.2, task:2.1, task:2.2), 0 already present",
    ]
    state = (dict(api.github.environments), dict(api.github.labels), dict(api.github.rulesets))
    second = gitops("setup-github", "--reviewer", "ada", "--reviewer", "octo/reviewers")
    assert "labels: 0 created, 8 already present" in second
    assert (dict(api.github.environments), dict(api.github.labels), dict(api.github.rulesets)) == state


def test_the_plan_jobs_check_refuses_gates_that_stop_nobody_until_setup_ran(api, site):
    out = gitops("--forge", "github", "setup-github", "--check", code=2)
    assert out.startswith(
        "error: The pipeline's gates would not stop anybody in octo/pipeline: environment b-1006-checkpoint-1-2 "
        "does not exist. Nothing ran. Fix: a repository admin runs `gitops setup-github --reviewer LOGIN` (see "
        "docs/github.md), or chooses the PR-merge fallback: repository variable GITOPS_GATES=pr-merge and a "
        "ruleset on main that requires a pull request with at least one approving review.\n")
    # The push that brought the workflow ran before setup: GitHub made the environment, unprotected.
    api.github.add_run(70, ".github/workflows/b-1006.yml", jobs={"gate-1-2": "b-1006-checkpoint-1-2"})
    assert api.github.runs[70]["started"] == ["gate-1-2"]
    assert "has no required reviewers" in gitops("--forge", "github", "setup-github", "--check", code=2)
    gitops("setup-github", "--reviewer", "ada", "--reviewer", "bob")
    assert gitops("--forge", "github", "setup-github", "--check") == (
        "gates: 1 environment(s), each with required reviewers\n")


def test_the_pr_merge_fallback_passes_the_check_only_with_a_required_review_on_main(api, site, monkeypatch):
    api.github.add_environment("b-1006-checkpoint-1-2")  # no reviewers: a private repository's plan
    monkeypatch.setenv("GITOPS_GATES", "pr-merge")
    out = gitops("--forge", "github", "setup-github", "--check", code=2)
    assert "GITOPS_GATES=pr-merge is set, but no active rule on main requires an approving review" in out
    api.github.rulesets[1] = {"id": 1, "name": "main", "target": "branch", "enforcement": "active",
                              "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
                              "rules": [{"type": "pull_request", "parameters": {"required_approving_review_count": 1}}]}
    assert gitops("--forge", "github", "setup-github", "--check") == (
        "gates: GITOPS_GATES=pr-merge: checkpoints do not wait; every phase PR into main needs 1 approving "
        "review(s)\n")


def test_a_missing_token_is_exit_2_with_the_variable_named(site, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN")
    out = gitops("--forge", "github", "run", code=2)
    assert out.startswith("error: GITHUB_TOKEN is not set: set it to a token")


def test_status_and_lint_with_the_github_forge_never_import_pygithub(site):
    code = ("import sys; from click.testing import CliRunner; from gitops.cli import main; "
            "r = CliRunner().invoke(main, ['--tasklist', 'B-1006.md', '--forge', 'github', 'status']); "
            "assert r.exit_code == 0, r.output; "
            "r = CliRunner().invoke(main, ['lint', 'B-1006.md']); "
            "print(sorted(m for m in sys.modules if m == 'github' or m.startswith('github.')))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=site, env=env, capture_output=True, text=True)
    assert (out.returncode, out.stdout, out.stderr) == (0, "[]\n", "")


def test_a_gate_job_that_finds_no_approval_records_nobody_and_fails(api, site, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTOR", "carol")
    gitops("--forge", "github", "run")  # Task 1.2 awaits its checkpoint
    api.github.add_run(77, ".github/workflows/b-1006.yml")  # no approval to read: no required reviewers
    monkeypatch.setenv("GITHUB_JOB", "plan")  # e.g. a dispatch run: no environment was passed here
    out = gitops("--forge", "github", "approve", "1.2", "--recorded")
    assert "Gate 1.2 is not approved on the forge yet: nothing to record." in out
    monkeypatch.setenv("GITHUB_JOB", "gate-1-2")  # the gate's own job: GitHub let it start unreviewed
    out = gitops("--forge", "github", "approve", "1.2", "--recorded", code=2)
    assert out.startswith(
        "error: Gate 1.2: its job started, but GitHub holds no approval of environment b-1006-checkpoint-1-2 in "
        "this run, so the environment has no required reviewers and nobody reviewed the gate. Nothing is "
        "recorded. Fix: a repository admin runs `gitops setup-github --reviewer LOGIN`, then run the workflow "
        "again (the gate waits for a reviewer).\n")
    assert branch_state(site)["gates"]["1.2"]["status"] == "pending"


def test_an_approver_that_cannot_be_read_is_an_error_never_the_actor(api, site, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTOR", "carol")
    monkeypatch.setenv("GITHUB_JOB", "gate-1-2")
    gitops("--forge", "github", "run")
    api.github.add_run(77, ".github/workflows/b-1006.yml")
    api.fail(502, times=10, path="/approvals")
    out = gitops("--forge", "github", "approve", "1.2", "--recorded", code=1)
    assert out.startswith("error: GitHub kept failing while reading the approvals of run 77 (too many 502 error "
                          "responses; gave up after 1 retries).")
    assert branch_state(site)["gates"]["1.2"]["status"] == "pending"


def test_with_the_pr_merge_fallback_a_gate_is_recorded_as_reviewed_by_nobody(api, site, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTOR", "carol")
    monkeypatch.setenv("GITHUB_JOB", "gate-1-2")
    monkeypatch.setenv("GITOPS_GATES", "pr-merge")
    gitops("--forge", "github", "run")
    api.github.add_run(77, ".github/workflows/b-1006.yml")
    gitops("--forge", "github", "approve", "1.2", "--recorded")
    gate = branch_state(site)["gates"]["1.2"]
    assert (gate["status"], gate["approved_by"]) == (
        "approved", "nobody (GITOPS_GATES=pr-merge: the phase PR's review is the check)")


def test_a_phase_gate_is_recorded_only_from_the_merged_phase_pr(api, site, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTOR", "carol")
    monkeypatch.setenv("GITHUB_JOB", "gate-1-2")
    gitops("--forge", "github", "run")
    api.github.add_environment("b-1006-checkpoint-1-2", reviewers=(("User", 2),))
    api.github.add_run(77, ".github/workflows/b-1006.yml", jobs={"gate-1-2": "b-1006-checkpoint-1-2"})
    api.github.runs[77]["approvals"].append({"state": "approved", "comment": "", "user": api.github.user("bob"),
                                             "environments": [api.github.environment("b-1006-checkpoint-1-2")]})
    gitops("--forge", "github", "approve", "1.2", "--recorded")
    gitops("--forge", "github", "run")  # stops at phase-2
    monkeypatch.setenv("GITHUB_JOB", "plan")  # a push to main records a merged phase PR here
    api.github.branches.add("gitops/b-1006/phase-1")
    gitops("--forge", "github", "report")  # opens the phase PR
    [number] = api.github.pulls
    out = gitops("--forge", "github", "approve", "phase-2", "--recorded")
    assert "Gate phase-2 is not approved on the forge yet: nothing to record." in out
    assert branch_state(site)["gates"]["phase-2"]["status"] == "pending"
    api.github.merge(number, "ada")
    gitops("--forge", "github", "approve", "phase-2", "--recorded")
    gate = branch_state(site)["gates"]["phase-2"]
    assert (gate["status"], gate["approved_by"]) == ("approved", "ada")


def test_the_phase_branch_starts_from_the_repositorys_default_branch(api, tmp_path, monkeypatch):
    """A repository whose default branch is trunk: the workflow passes it (github.event.repository.default_branch)."""
    site = tmp_path / "trunk"
    site.mkdir()
    monkeypatch.chdir(site)
    shutil.copy(DATA / "run_pipeline.md", site / "B-1006.md")
    for name, value in {**actions_environ(api, tmp_path), **TUNING, "GITOPS_DEFAULT_BRANCH": "trunk"}.items():
        monkeypatch.setenv(name, value)
    remote = tmp_path / "trunk-origin.git"
    git = lambda *args: subprocess.run(["git", *args], cwd=site, check=True, capture_output=True)  # noqa: E731
    subprocess.run(["git", "init", "-q", "--bare", "-b", "trunk", str(remote)], check=True)
    git("init", "-q", "-b", "trunk")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "start")
    git("remote", "add", "origin", str(remote))
    git("push", "-q", "origin", "trunk")
    assert "Stopped at gate 1.2" in gitops("--forge", "github", "run")
    assert branch_state(site)["tasks"]["1.2"]["status"] == "awaiting_approval"
    # Phase 1's PR is merged into trunk: trunk's state.json now says which phase is in progress.
    state = branch_state(site) | {"current_phase": 2}
    (site / "state.json").write_text(json.dumps(state))
    git("add", "state.json")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "phase 1 merged")
    git("push", "-q", "origin", "trunk")
    config = load_config(site, os.environ, "B-1006.md", "state.json", "github")
    store = Context(config).git_store(Context(config).checked_tasklist(), site)
    assert (store.base, store.branch) == ("trunk", "gitops/b-1006/phase-2")


FLAKY = """# Process Task List: Flaky

**Auto-Advance**: yes
**Pause After**: no

## Phase 1: Build

### Task 1.1 - Needs its input
**Dependencies**: None
**Run**: `test -f ok.txt`

**Done when**:
- [ ] The input exists
"""


def test_a_hotfix_issue_whose_closing_failed_is_closed_by_the_next_report(api, site):
    (site / "B-1006.md").write_text(FLAKY)
    gitops("--forge", "github", "run", code=1)  # Task 1.1 fails: HotFix issue #1
    assert api.github.issues[1]["state"] == "open"
    (site / "ok.txt").write_text("fixed\n")
    gitops("--forge", "github", "retry", "1.1")
    api.fail(502, times=20, method="PATCH", path="/issues/1")  # GitHub fails the closing edit
    out = gitops("--forge", "github", "run")
    assert "it is retried on the next command" in out and api.github.issues[1]["state"] == "open"
    api.clear()
    api.github.branches.add("gitops/b-1006/phase-1")  # the phase is complete: report opens its PR
    gitops("--forge", "github", "report")  # the workflow's report job: the promise is kept
    assert (api.github.issues[1]["state"], api.github.issues[1]["state_reason"]) == ("closed", "completed")


def test_a_task_job_hands_over_and_its_recording_job_commits_through_the_command_line(api, site):
    handed = site / ".gitops" / "handover" / "task-1-1.json"
    # Before its run claims it, the task job runs nothing and the recording job records nothing.
    assert "Nothing to run: Task 1.1 is pending, not claimed by this run." in gitops(
        "--forge", "github", "run-task", "1.1", "--hand-over", str(handed))
    # It hands that over all the same: the upload step fails only on a job that broke (if-no-files-found: error).
    assert json.loads(handed.read_text())["error"] == "the task did not run: Task 1.1 is pending, not claimed by this run"
    assert "Nothing to record: Task 1.1 is pending, not claimed by this run." in gitops(
        "--forge", "github", "record-task", "1.1", "--from", str(handed))
    assert "Claimed for this run: 1.1." in gitops("--forge", "github", "claim", '["1.1", "1.2"]')  # 1.2 needs 1.1
    (site / "state.json").unlink()  # the plan job's copy: each job has a checkout of its own
    out = gitops("--forge", "github", "run-task", "1.1", "--hand-over", str(handed))
    assert "handed over in" in out
    assert "Task 1.1 recorded: done" in gitops("--forge", "github", "record-task", "1.1", "--from", str(handed))
    assert branch_state(site)["tasks"]["1.1"]["status"] == "done"


def test_a_result_that_never_arrived_fails_the_recording_job_and_says_to_retry(api, site):
    assert "Claimed for this run: 1.1." in gitops("--forge", "github", "claim", '["1.1"]')
    out = gitops("--forge", "github", "record-task", "1.1", "--from", str(site / "never-uploaded.json"), code=1)
    assert "Task 1.1 recorded as interrupted. Task 1.1 was interrupted on attempt 1: the result handed over" in out
    assert "Run it again: `gitops retry 1.1`." in " ".join(out.split())
    record = branch_state(site)["tasks"]["1.1"]
    assert (record["status"], record["interrupted"]) == ("failed", True)
    assert not api.github.hotfix_issues()  # nothing says the task broke
    # Recorded once: the job run again records nothing and does not fail.
    assert "Nothing to record: Task 1.1 is failed" in gitops("--forge", "github", "record-task", "1.1", "--from",
                                                            str(site / "never-uploaded.json"))


@pytest.mark.parametrize(("args", "message"), [
    (("run-task", "1.1", "--hand-over", "x.json"), "error: --hand-over is for a workflow's task job: it needs --forge github.\n"),
    (("record-task", "1.1", "--from", "x.json"),
     "error: record-task commits a workflow task job's result: it needs --forge github.\n"),
    (("approve", "deploy-1.1", "--hand-over"), "error: --hand-over records an approval the forge holds: it needs --recorded.\n"),
])
def test_hand_over_options_outside_a_task_job_are_clear_errors(site, args, message):
    assert gitops("--forge", "local", *args, code=2).endswith(message)
