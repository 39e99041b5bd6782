"""A reviewer rejects the `production` review of the windows workflow's `evaluate` job (issue 15):
nothing is evaluated, and its `record` job records what a person decided, by whom, and how to ask
again; the next hourly run's `due` job finds nothing due, so nobody is asked every hour, until
`gitops retry` asks again.

The jobs' commands run through the command line against the stand-in, as the workflow runs them;
the review is posted as a reviewer would (POST .../pending_deployments, state rejected).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from gitops.github import windows_workflow
from gitops.github.commands import step_text
from gitops.plan import planner, transitions, windows
from gitops.plan.transitions import Approved, Finished, Started
from gitops.state import document
from gitops.state.git_store import GitStateStore
from gitops.tasklist import parser
from tests.gitops.github.test_cli_github import branch_state, gitops, site  # noqa: F401 (site: a fixture)
from tests.gitops.github.test_rejected_production import RUN, review

WINDOW_LIST = """# Process Task List: Watch a service

**Auto-Advance**: yes
**Pause After**: no

## Phase 1: Production Deployment

### Task 1.1: Watch the rollout for a day
**Dependencies**: None
**Run**: `echo watch`

**Done when**:
- [ ] The error rate stayed low over the window

### Task 1.2: Announce it
**Dependencies**: 1.1
**Run**: `echo announce`

**Done when**:
- [ ] The announcement is out
"""
OPENED = "2026-01-01T00:00:00+00:00"  # a window of an hour that ended long before the test runs
UNTIL = "2026-01-01T01:00:00+00:00"
HANDOVER = ".gitops/windows"


def waiting_on_the_branch(site: Path) -> None:
    """Task 1.1 deployed (deploy-1.1 approved by ada) and its action opened a window, now ended: on the phase branch."""
    tasklist = parser.load(Path("B-1006.md"))[0]  # as the command line names it (cwd: the checkout)
    state = document.new_state(tasklist, OPENED)
    transitions.sync(tasklist, state)
    for event in (Approved("deploy-1.1", "ada"), Started("1.1"),
                  Finished("1.1", [], window=windows.opened(OPENED, 3600, "handlers:WATCHED"))):
        state, _ = transitions.apply(tasklist, state, event, OPENED)
    GitStateStore(site, "origin", "gitops/b-1006/phase-1").update(lambda _: state, create=lambda: state)


@pytest.fixture
def windows_run(api, site):  # noqa: F811 (site: the fixture imported above)
    """Task 1.1 waits, its window ended; run 77 of the windows workflow found it due, and its
    `evaluate` job waits in `production`. Returns the checkout its `record` job runs in."""
    (site / "B-1006.md").write_text(WINDOW_LIST)
    waiting_on_the_branch(site)
    github = api.github
    github.add_environment("production", (("User", github.users["ada"]), ("User", github.users["bob"])))
    github.add_run(RUN, windows_workflow.windows_workflow_path("B-1006.md"), actor="carol")
    assert "due=true" in gitops("--forge", "github", "due-windows", "--outputs")
    github.reach(RUN, "evaluate", "production")
    return site


def record_job(api, monkeypatch) -> str:
    """The `record` job's step, with the evaluate job's result as the workflow passes it; nothing was handed over."""
    monkeypatch.setenv("EVALUATE_JOB_RESULT", api.github.runs[RUN]["results"].get("evaluate", "failure"))
    return " ".join(gitops("--forge", "github", "record-windows", "--from", HANDOVER, "--outputs").split())


REJECTED = ('Task 1.1 was not evaluated: the production review of its window\'s evaluation was rejected by bob '
            '("not during the sale"). It keeps waiting and is not evaluated until someone asks again: '
            "`gitops retry 1.1`.")


def test_a_rejected_evaluation_is_recorded_and_the_next_run_does_not_ask_again(api, windows_run, monkeypatch):
    review(api, "token-bob", "rejected", "not during the sale")
    assert api.github.runs[RUN]["results"]["evaluate"] == "failure"  # never started
    out = record_job(api, monkeypatch)
    assert REJECTED in out and "completed=false" in out
    state = branch_state(windows_run)
    record = state["tasks"]["1.1"]
    assert (record["status"], record["attempts"]) == ("waiting", 1)
    assert record["window"]["rejected"] | {"at": None} == {"by": "bob", "comment": "not during the sale", "at": None}
    assert state["gates"]["deploy-1.1"]["approved_by"] == "ada"  # the deployment's approval stands
    assert not api.github.hotfix_issues()  # a person decided: nothing broke
    # The next hourly run's `due` job: nothing is due, so its evaluate job, and its review, never exist.
    due = " ".join(gitops("--forge", "github", "due-windows", "--outputs").split())
    assert "due=false" in due and REJECTED in due
    # The progress comment's next step.
    step = planner.next_step(parser.load(Path("B-1006.md"))[0], state, frozenset({"1.1", "1.2"}))
    assert step_text("b-1006", None)(step) == (
        f"{REJECTED} On GitHub: run the workflow with input `retry=1.1`, or comment `/gitops retry 1.1` on the "
        "phase PR; the next run of the hourly workflow `b-1006-windows.yml` (or one started by hand) then asks a "
        "release reviewer again.")
    # A second recording (a re-run of the job) changes nothing.
    assert REJECTED in record_job(api, monkeypatch)
    assert branch_state(windows_run) == state


def test_asking_again_makes_the_window_due_and_the_task_still_waits(api, windows_run, monkeypatch):
    review(api, "token-bob", "rejected", "not during the sale")
    record_job(api, monkeypatch)
    gitops("--forge", "github", "retry", "1.1")  # dispatch retry=1.1, or `/gitops retry 1.1`
    record = branch_state(windows_run)["tasks"]["1.1"]
    assert (record["status"], record["attempts"]) == ("waiting", 1)  # its action does not run again
    assert "rejected" not in record["window"]
    assert "due=true" in gitops("--forge", "github", "due-windows", "--outputs")


def test_an_approved_evaluation_that_handed_nothing_over_is_no_rejection(api, windows_run, monkeypatch):
    review(api, "token-ada", "approved", "")
    out = record_job(api, monkeypatch)  # the job started, then failed before it handed anything over
    assert f"Task 1.1 still waits (until {UNTIL}): no evaluation was handed over." in out
    assert "rejected" not in branch_state(windows_run)["tasks"]["1.1"]["window"]
    assert "due=true" in gitops("--forge", "github", "due-windows", "--outputs")  # the next run evaluates it
