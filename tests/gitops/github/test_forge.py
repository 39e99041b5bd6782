"""GitHubForge over real HTTP (PyGithub against the stand-in): idempotent issues, the sticky
comment, phase PRs, capped and redacted bodies, approvals."""
from __future__ import annotations

import json

import pytest

from gitops.errors import BadInput
from gitops.github.api import LIMIT, GitHubError, GitHubSettings
from gitops.github.forge import cap, hidden
from tests.gitops.github.conftest import make_forge

LABELS = ["hotfix", "task:2.1"]


def test_a_hotfix_issue_carries_labels_and_marker_and_a_rerun_updates_it(api, forge):
    url = forge.open_issue("hotfix:2.1", "T-HotFix-1 Fix Task 2.1", "first error", LABELS)
    again = forge.open_issue("hotfix:2.1", "T-HotFix-1 Fix Task 2.1", "second error", LABELS)
    assert url == again == f"{api.url}/octo/pipeline/issues/1"
    (issue,) = api.github.issues.values()
    assert issue["labels"] == LABELS
    assert issue["body"] == "<!-- gitops:hotfix:2.1 -->\nsecond error"
    assert [(r.method, r.path) for r in api.writes()] == [
        ("POST", "/repos/octo/pipeline/issues"), ("PATCH", "/repos/octo/pipeline/issues/1")]


def test_an_unchanged_rerun_writes_nothing(api, forge):
    forge.open_issue("hotfix:2.1", "T-HotFix-1", "same", LABELS)
    before = len(api.writes())
    forge.open_issue("hotfix:2.1", "T-HotFix-1", "same", LABELS)
    assert len(api.writes()) == before


def test_a_new_failure_of_a_task_reopens_its_closed_issue_instead_of_opening_another(api, forge):
    forge.open_issue("hotfix:2.1", "T-HotFix-1", "error 1", LABELS)
    forge.close_issue("hotfix:2.1", "Task 2.1 passed on attempt 2.")
    forge.open_issue("hotfix:2.1", "T-HotFix-2", "error 2", LABELS)
    (issue,) = api.github.issues.values()
    assert (issue["state"], issue["title"]) == ("open", "T-HotFix-2")


def test_issues_of_other_tasks_and_without_the_marker_are_left_alone(api, forge):
    forge.open_issue("hotfix:2.1", "T-HotFix-1", "a", LABELS)
    api.github.issues[1]["body"] = "edited by a person, marker gone"
    forge.open_issue("hotfix:2.1", "T-HotFix-1", "a", LABELS)
    forge.open_issue("hotfix:3.1", "T-HotFix-2", "b", ["hotfix", "task:3.1"])
    assert len(api.github.issues) == 3


def test_close_leaves_one_comment_and_a_rerun_does_not_repeat_it(api, forge):
    forge.open_issue("hotfix:2.1", "T-HotFix-1", "a", LABELS)
    forge.close_issue("hotfix:2.1", "Task 2.1 passed on attempt 2.")
    forge.close_issue("hotfix:2.1", "Task 2.1 passed on attempt 2.")
    issue = api.github.issues[1]
    assert (issue["state"], issue["state_reason"]) == ("closed", "completed")
    assert [c["body"] for c in api.github.comments_on(1)] == ["Task 2.1 passed on attempt 2."]


def test_closing_an_issue_that_was_never_opened_does_nothing(api, forge):
    forge.close_issue("hotfix:9.9", "passed")
    assert api.writes() == []


def test_the_sticky_comment_is_edited_in_place_on_the_phase_pr(api, forge):
    api.github.branches.add("gitops/b-1006/phase-1")
    pr = forge.open_phase_pr(1, "B-1006: Phase 1 complete", "summary")
    first = forge.upsert_comment("phase:1", "1/3 tasks done")
    second = forge.upsert_comment("phase:1", "2/3 tasks done")
    assert first == second and first.startswith(f"{pr}#issuecomment-")
    (comment,) = api.github.comments.values()
    assert comment["body"] == "<!-- gitops:phase:1 -->\n2/3 tasks done"


def test_before_its_pr_exists_a_phase_posts_to_one_progress_issue(api, forge):
    forge.upsert_comment("phase:1", "1/3 tasks done")
    forge.upsert_comment("phase:1", "2/3 tasks done")
    (issue,) = api.github.issues.values()
    assert (issue["title"], issue["labels"]) == ("b-1006: pipeline progress", ["gitops"])
    assert [c["body"] for c in api.github.comments_on(1)] == ["<!-- gitops:phase:1 -->\n2/3 tasks done"]


def test_the_phase_pr_is_opened_once_from_its_branch_into_the_default_branch(api, forge):
    api.github.branches.add("gitops/b-1006/phase-1")
    url = forge.open_phase_pr(1, "B-1006: Phase 1 complete", "summary")
    assert forge.open_phase_pr(1, "B-1006: Phase 1 complete", "summary v2") == url
    (pull,) = api.github.pulls.values()
    assert (pull["head"], pull["base"]) == ("gitops/b-1006/phase-1", "main")
    assert api.github.issues[1]["body"] == "<!-- gitops:phase-pr:1 -->\nsummary v2"


def test_a_merged_phase_pr_is_found_not_opened_again(api, forge):
    api.github.branches.add("gitops/b-1006/phase-1")
    url = forge.open_phase_pr(1, "Phase 1", "summary")
    api.github.merge(1, "bob")
    assert forge.open_phase_pr(1, "Phase 1", "summary") == url
    assert len(api.github.pulls) == 1


def test_a_phase_pr_closed_unmerged_is_a_rejection_not_reopened_by_the_next_report(api, forge, environ):
    api.github.branches.add("gitops/b-1006/phase-1")
    url = forge.open_phase_pr(1, "Phase 1", "summary")
    api.github.issues[1] |= {"state": "closed"}  # a reviewer closes it without merging
    assert forge.open_phase_pr(1, "Phase 1", "summary v2") == url  # no second PR slips past the "no"
    assert len(api.github.pulls) == 1 and api.github.issues[1]["state"] == "closed"
    assert forge.record_approval("phase-2") is None
    assert make_forge(environ).phase_rejected(1) is True
    api.github.issues[1] |= {"state": "open"}  # reopened: the phase goes on
    assert make_forge(environ).phase_rejected(1) is False


def test_a_phase_pr_without_its_branch_is_a_clear_error(api, forge):
    with pytest.raises(GitHubError) as caught:
        forge.open_phase_pr(2, "Phase 2", "summary")
    assert str(caught.value) == (
        "GitHub refused opening the PR of phase 2 from gitops/b-1006/phase-2 (HTTP 422 Validation Failed: "
        "head invalid). The branch gitops/b-1006/phase-2 must exist and differ from the default branch "
        "(the workflow pushes it)."
    )


def test_long_bodies_are_capped_below_the_limit_with_a_link_to_the_run_log(api, forge):
    body = "## What failed\n\n```text\n" + "log line\n" * 30_000 + "```\n"
    forge.open_issue("hotfix:2.1", "T-HotFix-1", body, LABELS)
    stored = api.github.issues[1]["body"]
    assert len(stored) < LIMIT
    assert stored.startswith(hidden("hotfix:2.1") + "\n## What failed")
    assert stored.endswith(f"characters left out; the full log: {api.url}/octo/pipeline/actions/runs/77)")
    assert stored.count("```") % 2 == 0  # the cut closed the open fence
    before = len(api.writes())
    forge.open_issue("hotfix:2.1", "T-HotFix-1", body, LABELS)
    assert len(api.writes()) == before  # capping is deterministic: the rerun changes nothing


def test_everything_posted_is_redacted(api, environ):
    pat = "ghp_" + "Z" * 36
    environ |= {"OPENAI_API_KEY": "sk-live-123456789", "GITHUB_TOKEN": environ["GITHUB_TOKEN"]}
    forge = make_forge(environ)
    api.github.branches.add("gitops/b-1006/phase-1")
    leaky = (f"pushed with {pat} to https://ci:hunter2hunter2@example.com, key sk-live-123456789, "
             f"header Authorization: Bearer abcdefghijklmnop, and {environ['GITHUB_TOKEN']}")
    forge.open_issue("hotfix:2.1", f"T-HotFix-1 {pat}", leaky, LABELS)
    forge.upsert_comment("phase:1", leaky)
    forge.open_phase_pr(1, "Phase 1", leaky)
    forge.upsert_comment("phase:1", leaky)
    forge.close_issue("hotfix:2.1", leaky)
    posted = json.dumps([r.body for r in api.writes()])
    for secret in (pat, "hunter2hunter2", "sk-live-123456789", "abcdefghijklmnop", environ["GITHUB_TOKEN"]):
        assert secret not in posted
    assert posted.count("***") >= 5 * 5


def test_who_approved_a_checkpoint_comes_from_the_runs_approvals(api, forge):
    api.github.environments["b-1006-checkpoint-1-1"] = {"id": 50, "wait_timer": 0, "reviewers": [("User", 1)],
                                                    "prevent_self_review": False, "created_at": "", "updated_at": ""}
    api.github.add_run(77, ".github/workflows/b-1006.yml")
    api.github.runs[77]["approvals"] = [
        {"state": "approved", "comment": "", "user": api.github.user("ada"),
         "environments": [api.github.environment("b-1006-checkpoint-1-1")]}]
    assert forge.record_approval("1.1") == "ada"
    assert forge.record_approval("deploy-6.1") is None  # production was not approved in this run


def test_who_approved_a_phase_is_who_merged_its_pr(api, forge):
    api.github.branches.add("gitops/b-1006/phase-1")
    forge.open_phase_pr(1, "Phase 1", "summary")
    assert forge.record_approval("phase-2") is None
    api.github.merge(1, "bob")
    assert forge.record_approval("phase-2") == "bob"


def test_without_a_run_id_nobody_is_known_to_have_approved(api, environ):
    del environ["GITHUB_RUN_ID"]
    assert make_forge(environ).record_approval("1.1") is None
    assert api.requests == []


@pytest.mark.parametrize(
    "missing, message",
    [
        ("GITHUB_REPOSITORY", "GITHUB_REPOSITORY is not set: set it to owner/name of the repository "
                              "(GitHub Actions sets it), or use --forge local."),
        ("GITHUB_TOKEN", "GITHUB_TOKEN is not set: set it to a token that may write issues and pull requests "
                         "(in a workflow: `env: GITHUB_TOKEN: ${{ github.token }}`; on a laptop: "
                         "`export GITHUB_TOKEN=$(gh auth token)`), or use --forge local."),
    ],
)
def test_a_missing_variable_is_named_with_what_to_set(environ, missing, message):
    del environ[missing]
    with pytest.raises(BadInput) as caught:
        GitHubSettings.from_environ(environ)
    assert str(caught.value) == message


def test_settings_come_from_the_actions_variables_and_tuning_variables(environ):
    environ |= {"GITHUB_API_URL": "https://ghe.example.com/api/v3/", "GITOPS_GITHUB_TIMEOUT": "7",
                "GITOPS_GITHUB_PACE": "0"}
    settings = GitHubSettings.from_environ(environ)
    assert (settings.api_url, settings.run_id, settings.timeout, settings.seconds_between_writes) == (
        "https://ghe.example.com/api/v3", 77, 7, 0.0)
    assert settings.run_url() == f"{environ['GITHUB_SERVER_URL']}/octo/pipeline/actions/runs/77"
    with pytest.raises(BadInput, match="GITOPS_GITHUB_RETRIES is 'many': it must be a int."):
        GitHubSettings.from_environ(environ | {"GITOPS_GITHUB_RETRIES": "many"})


def test_a_cut_inside_a_long_fence_closes_that_fence_before_the_notice():
    """Issue 12 item 7: a block fenced with ```` (its text holds ```) is closed with ````, not ```."""
    text = "````text\n" + "```\nline\n" * 50 + "````\nafter"
    out = cap(text, 200, "https://run/1")
    kept = out.split("\n\n… (truncated")[0]
    assert kept.endswith("\n````") and kept.startswith("````text\n```\nline\n")
    assert out.endswith("characters left out; the full log: https://run/1)")


# ------------------------------------------------------------------ only the bot's own markers count
def test_a_sticky_comment_marker_written_by_somebody_else_is_not_taken_over(api, forge, environ):
    api.github.branches.add("gitops/b-1006/phase-1")
    forge.open_phase_pr(1, "B-1006: Phase 1 complete", "summary")
    bob = make_forge(environ | {"GITHUB_TOKEN": "token-bob"})
    bob.upsert_comment("phase:1", "all approved, merge now")  # anyone may paste the hidden marker
    forge.upsert_comment("phase:1", "1/3 tasks done")
    bodies = {c["user"]["login"]: c["body"] for c in api.github.comments.values()}
    assert bodies == {"bob": "<!-- gitops:phase:1 -->\nall approved, merge now",
                      "github-actions[bot]": "<!-- gitops:phase:1 -->\n1/3 tasks done"}


def test_a_hotfix_issue_opened_by_somebody_else_with_the_marker_is_left_alone(api, forge, environ):
    make_forge(environ | {"GITHUB_TOKEN": "token-bob"}).open_issue("hotfix:2.1", "fake", "ignore", ["hotfix", "task:2.1"])
    forge.open_issue("hotfix:2.1", "T-HotFix-1 Fix Task 2.1", "the error", ["hotfix", "task:2.1"])
    assert sorted((i["user"]["login"], i["title"]) for i in api.github.issues.values()) == [
        ("bob", "fake"), ("github-actions[bot]", "T-HotFix-1 Fix Task 2.1")]
    forge.close_issue("hotfix:2.1", "passed")
    assert {i["user"]["login"]: i["state"] for i in api.github.issues.values()} == {
        "bob": "open", "github-actions[bot]": "closed"}


def test_a_person_running_gitops_with_their_own_token_finds_their_own_markers(api, environ):
    ada = make_forge(environ | {"GITHUB_TOKEN": "token-ada"})
    ada.upsert_comment("phase:1", "1/3 tasks done")
    ada.upsert_comment("phase:1", "2/3 tasks done")
    assert [c["body"] for c in api.github.comments.values()] == ["<!-- gitops:phase:1 -->\n2/3 tasks done"]


def test_the_sticky_comment_of_a_rejected_phase_says_so_first(api, forge):
    api.github.branches.add("gitops/b-1006/phase-1")
    forge.open_phase_pr(1, "Phase 1", "summary")
    api.github.issues[1] |= {"state": "closed"}
    forge.upsert_comment("phase:1", "Merge this PR to start Phase 2.")
    (comment,) = api.github.comments.values()
    assert comment["body"] == (
        "<!-- gitops:phase:1 -->\n**This PR was closed without merging: Phase 2 is rejected and does not start.** "
        "Reopen the PR (after pushing any fix to its branch) to let the pipeline go on.\n\n"
        "Merge this PR to start Phase 2.")


def test_the_phase_pr_head_carries_the_status_branch_protection_can_require(api, forge):
    # A PR opened with GITHUB_TOKEN gets no CI: the report job's status is what a rule can require.
    api.github.branches.add("gitops/b-1006/phase-1")
    forge.open_phase_pr(1, "Phase 1", "summary")
    forge.open_phase_pr(1, "Phase 1", "summary v2")  # the next report sets nothing twice
    (status,) = api.github.statuses[api.github.head("gitops/b-1006/phase-1")]
    assert (status["context"], status["state"], status["description"], status["target_url"]) == (
        "gitops/phase-1", "success", "Phase 1 complete: every task is done", f"{api.url}/octo/pipeline/actions/runs/77")
