"""The rendered workflow against GitHub's rules for starting runs and jobs (modelled in
FakeGitHub.trigger and start_job): one running and one pending run or job per concurrency group,
path filters, and events made with GITHUB_TOKEN (issue 11 item 3)."""
from __future__ import annotations

import pytest

from gitops.github import workflow
from gitops.handlers import Registry
from gitops.tasklist import parser
from tests.conftest import ROOT
from tests.gitops.github.fake_github import FakeGitHub

TASKLIST = "migration/B-1006.md"
PATH = workflow.workflow_path(TASKLIST)


@pytest.fixture(scope="module")
def doc() -> dict:
    tl, _ = parser.load(ROOT / TASKLIST)
    return workflow.workflow(tl, TASKLIST, Registry.from_module("migration.handlers").ids())


def waiting_at_a_gate_and_a_retry(gh: FakeGitHub, doc: dict) -> tuple[int, int]:
    """Run A waits at a gate (for days); a retry= dispatch comes meanwhile."""
    waiting = gh.trigger(doc, "push", "ada", PATH, changed=(TASKLIST,))
    gh.runs[waiting]["status"] = "waiting"
    retry = gh.trigger(doc, "workflow_dispatch", "bob", PATH)
    return waiting, retry


def test_a_run_waiting_at_a_gate_holds_no_group_so_a_dispatch_starts_at_once(doc):
    gh = FakeGitHub()
    waiting, retry = waiting_at_a_gate_and_a_retry(gh, doc)
    assert (gh.runs[retry]["status"], gh.runs[waiting]["status"]) == ("in_progress", "waiting")


def test_a_merged_phase_pr_no_longer_cancels_a_dispatch(doc):
    gh = FakeGitHub()
    _, retry = waiting_at_a_gate_and_a_retry(gh, doc)
    merged = gh.trigger(doc, "push", "ada", PATH, changed=("state.json", "docs/report.md"))
    assert (gh.runs[retry]["status"], gh.runs[retry].get("conclusion"), gh.runs[merged]["status"]) == (
        "in_progress", None, "in_progress")


def test_an_unrelated_push_to_main_starts_no_run(doc):
    gh = FakeGitHub()
    assert gh.trigger(doc, "push", "carol", PATH, changed=("src/app.py", "README.md")) is None


def test_only_report_jobs_queue_and_a_superseded_one_is_the_only_job_cancelled(doc):
    # Three overlapping runs: their task and recording jobs start at once; their report jobs are
    # serialised, and the middle one, still pending, gives way to the newest (which reports the newer state).
    gh = FakeGitHub()
    runs = [gh.trigger(doc, "workflow_dispatch", "ada", PATH) for _ in range(3)]
    assert [gh.start_job(run, "record-1-1", doc) for run in runs] == ["in_progress"] * 3
    assert [gh.start_job(run, "report", doc) for run in runs] == ["in_progress", "pending", "pending"]
    assert [gh.job(run, "report")["status"] for run in runs] == ["in_progress", "completed", "pending"]
    assert gh.job(runs[1], "report")["conclusion"] == "cancelled"
    assert all(gh.job(run, "record-1-1")["status"] == "in_progress" for run in runs)


def test_state_commits_start_no_run(doc):
    gh = FakeGitHub()
    # Made with GITHUB_TOKEN, and on gitops/** besides: no run either way.
    assert gh.trigger(doc, "push", "github-actions[bot]", PATH, ref="gitops/b-1006/phase-1",
                      changed=("state.json",)) is None
    assert gh.trigger(doc, "push", "ada", PATH, ref="gitops/b-1006/phase-1", changed=("state.json",)) is None
    assert gh.trigger(doc, "workflow_dispatch", "github-actions[bot]", PATH) is not None  # the exception
