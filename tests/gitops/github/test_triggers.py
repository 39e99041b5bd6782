"""The rendered workflow against GitHub's rules for starting runs (modelled in FakeGitHub.trigger):
one pending run per concurrency group, path filters, and events made with GITHUB_TOKEN
(issue 11 item 3)."""
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


def waiting_with_a_queued_retry(gh: FakeGitHub, doc: dict) -> tuple[int, int]:
    """Run A waits at a gate (for days, holding the group); a retry= dispatch queues behind it."""
    waiting = gh.trigger(doc, "push", "ada", PATH, changed=(TASKLIST,))
    gh.runs[waiting]["status"] = "waiting"
    retry = gh.trigger(doc, "workflow_dispatch", "bob", PATH)
    assert gh.runs[retry]["status"] == "pending"
    return waiting, retry


def test_an_unrelated_push_to_main_neither_starts_a_run_nor_cancels_a_queued_dispatch(doc):
    gh = FakeGitHub()
    waiting, retry = waiting_with_a_queued_retry(gh, doc)
    assert gh.trigger(doc, "push", "carol", PATH, changed=("src/app.py", "README.md")) is None
    assert (gh.runs[retry]["status"], gh.runs[waiting]["status"]) == ("pending", "waiting")


def test_a_merged_phase_pr_still_replaces_a_queued_dispatch(doc):
    # GitHub's rule, documented in docs/github.md: dispatch again once the waiting run ended.
    gh = FakeGitHub()
    _, retry = waiting_with_a_queued_retry(gh, doc)
    merged = gh.trigger(doc, "push", "ada", PATH, changed=("state.json", "docs/report.md"))
    assert (gh.runs[retry]["conclusion"], gh.runs[merged]["status"]) == ("cancelled", "pending")


def test_state_commits_start_no_run(doc):
    gh = FakeGitHub()
    # Made with GITHUB_TOKEN, and on gitops/** besides: no run either way.
    assert gh.trigger(doc, "push", "github-actions[bot]", PATH, ref="gitops/b-1006/phase-1",
                      changed=("state.json",)) is None
    assert gh.trigger(doc, "push", "ada", PATH, ref="gitops/b-1006/phase-1", changed=("state.json",)) is None
    assert gh.trigger(doc, "workflow_dispatch", "github-actions[bot]", PATH) is not None  # the exception
