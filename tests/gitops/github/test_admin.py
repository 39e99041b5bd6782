"""setup-github and pending-deployment approval over real HTTP: idempotent setup that keeps an admin's
hardening, reviewers by name, the ruleset on gitops/**, the plan limitation, and approvals with their
clear errors."""
from __future__ import annotations

import dataclasses

import pytest

from gitops.errors import UsageError
from gitops.github.api import GitHubError
from gitops.github.commands import approve_deployment, setup_github
from gitops.github.ruleset import ruleset_body
from tests.gitops.builders import task, tasklist
from tests.gitops.github.conftest import FAST, make_forge

TL = dataclasses.replace(tasklist(task("1.1", pause=True), task("2.1", ("1.1",), run="true")),
                         path="migration/B-1006.md")
GATE = "b-1006-checkpoint-1-1"
PLAN = ("Required reviewers on environments work in public repositories on every plan; in private repositories "
        "they need GitHub Enterprise. Without them a job does not wait for anybody. Fallback: gate by PR merge: "
        "leave the environments without reviewers and protect the default branch instead (require a review); "
        "a phase advances only when its PR is merged.")
HARDENED = "2 required reviewer(s), self-review prevented, deploys from main only"


@pytest.fixture
def admin(environ):
    """What a repository admin runs setup-github with: their own token (GITHUB_TOKEN has no administration)."""
    return environ | {"GITHUB_TOKEN": "token-ada"}


def snapshot(api):
    gh = api.github
    return ({name: (env["reviewers"], env["wait_timer"], env["prevent_self_review"], env["branch_policy"],
                    env["branch_policies"]) for name, env in gh.environments.items()},
            dict(gh.labels), dict(gh.rulesets))


def test_setup_creates_hardened_environments_the_ruleset_and_labels_and_is_idempotent(api, admin):
    first = setup_github(TL, admin, ["ada", "octo/reviewers"], **FAST)
    assert first == [
        f"environment {GATE}: created, {HARDENED}",
        "ruleset 'gitops state branches': created (gitops/** cannot be force-pushed or deleted)",
        "labels: 6 created (hotfix, gitops, incident, production, task:1.1, task:2.1), 0 already present",
        f"Note: octo/pipeline is public. {PLAN}",
    ]
    custom = {"protected_branches": False, "custom_branch_policies": True}
    assert snapshot(api)[0] == {GATE: ([("Team", 70), ("User", 1)], 0, True, custom, ["main"])}
    assert [r | {"id": 0} for r in api.github.rulesets.values()] == [
        {"id": 0, "source_type": "Repository", "source": "octo/pipeline", **ruleset_body()}]
    state, writes = snapshot(api), len(api.writes())
    second = setup_github(TL, admin, ["ada", "octo/reviewers"], **FAST)
    assert second[:3] == [
        f"environment {GATE}: already set up",
        "ruleset 'gitops state branches': already present (kept as it is)",
        "labels: 0 created, 6 already present",
    ]
    assert snapshot(api) == state and len(api.writes()) == writes


def test_rerunning_setup_keeps_an_admins_hardening_and_only_changes_reviewers(api, admin):
    api.github.add_environment(GATE, reviewers=(("User", 1),), prevent_self_review=True)
    env = api.github.environments[GATE]
    env |= {"wait_timer": 30, "branch_policy": {"protected_branches": True, "custom_branch_policies": False},
            "can_admins_bypass": False}
    assert setup_github(TL, admin, ["bob"], **FAST)[0] == (
        f"environment {GATE}: updated, 1 required reviewer(s), self-review prevented, deploys from protected "
        "branches only")
    assert (env["reviewers"], env["wait_timer"], env["prevent_self_review"], env["branch_policy"],
            env["can_admins_bypass"]) == ([("User", 2)], 30, True, {"protected_branches": True,
                                                                    "custom_branch_policies": False}, False)
    out = setup_github(TL, admin, [], **FAST)
    assert out[0] == f"environment {GATE}: already set up (reviewers kept)"
    assert out[-2].startswith("No --reviewer given: environments keep the reviewers they have")
    assert env["reviewers"] == [("User", 2)]


def test_an_environment_github_made_unprotected_gets_the_defaults_on_the_default_branch(api, admin):
    api.github.default_branch = "trunk"
    api.github.add_run(70, ".github/workflows/b-1006.yml", jobs={"gate-1-1": GATE})  # made by the first push
    assert setup_github(TL, admin, ["ada", "bob"], **FAST)[0] == (
        f"environment {GATE}: updated, 2 required reviewer(s), self-review prevented, deploys from trunk only")
    assert api.github.environments[GATE]["branch_policies"] == ["trunk"]


def test_a_single_reviewer_is_told_self_review_is_prevented(api, admin):
    out = setup_github(TL, admin, ["ada"], **FAST)
    assert out[-2] == ("Note: ada is the only reviewer and may not approve runs they started (self-review is "
                       "prevented): name a second reviewer or a team.")


def test_without_administration_the_ruleset_is_left_to_a_person(api, environ):
    # The workflow's token: the stand-in lets it set environments, but a ruleset needs administration.
    out = setup_github(TL, environ, ["ada", "bob"], **FAST)
    assert out[1].startswith("ruleset 'gitops state branches': NOT created (GitHub refused creating ruleset "
                             "'gitops state branches' (HTTP 403 Resource not accessible by integration).")
    assert out[1].endswith("Protect gitops/** from force-push and deletion by hand: Settings -> Rules -> Rulesets "
                           "(rulesets on private repositories need GitHub Pro, Team or Enterprise).")


def test_on_a_private_repository_refused_reviewers_fall_back_with_the_plan_note(api, admin):
    api.github.private = True
    out = setup_github(TL, admin, ["ada"], **FAST)
    assert out[0] == f"environment {GATE}: created WITHOUT required reviewers: GitHub refused them (HTTP 422). " + PLAN
    assert out[-1] == f"Note: octo/pipeline is private. {PLAN}"
    assert api.github.environments[GATE]["reviewers"] == []


def test_an_unknown_reviewer_is_a_clear_error(api, admin):
    with pytest.raises(GitHubError) as caught:
        setup_github(TL, admin, ["nobody"], **FAST)
    assert str(caught.value) == ("GitHub refused looking up user nobody (HTTP 404 Not Found). "
                                 "Give users by their GitHub login.")


def arrange_waiting_run(api, run_id=77, env=GATE, reviewers=(("User", 1),)):
    api.github.add_environment(env, reviewers=reviewers, env_id=500)
    api.github.add_run(run_id, ".github/workflows/b-1006.yml", waiting_for=(env,), actor="carol")


def test_a_reviewer_approves_the_pending_deployment_and_the_bot_reads_who(api, environ):
    arrange_waiting_run(api)
    page = approve_deployment(TL, "1.1", environ | {"GITHUB_TOKEN": "token-ada"}, "ada", **FAST)
    assert page == f"{api.url}/octo/pipeline/actions/runs/77"
    run = api.github.runs[77]
    assert (run["status"], run["pending"]) == ("in_progress", [])
    assert run["approvals"][0]["comment"] == "Gate 1.1 approved with `gitops approve 1.1` by ada."
    (post,) = [r for r in api.writes() if r.path.endswith("/pending_deployments")]
    assert post.body == {"environment_ids": [500], "state": "approved",
                         "comment": "Gate 1.1 approved with `gitops approve 1.1` by ada."}
    assert make_forge(environ).record_approval("1.1") == "ada"


def test_without_a_run_id_the_newest_waiting_run_of_the_workflow_is_approved(api, environ):
    arrange_waiting_run(api, run_id=80)
    api.github.add_run(81, ".github/workflows/ci.yml", waiting_for=(GATE,))
    api.github.add_run(79, ".github/workflows/b-1006.yml", waiting_for=(GATE,))
    del environ["GITHUB_RUN_ID"]
    approve_deployment(TL, "1.1", environ | {"GITHUB_TOKEN": "token-ada"}, "ada", **FAST)
    assert [api.github.runs[r]["status"] for r in (79, 80, 81)] == ["waiting", "in_progress", "waiting"]


def test_no_waiting_run_says_where_to_look(api, environ):
    del environ["GITHUB_RUN_ID"]
    with pytest.raises(UsageError) as caught:
        approve_deployment(TL, "1.1", environ, "ada", **FAST)
    assert str(caught.value) == (
        "No run of .github/workflows/b-1006.yml waits for an approval in octo/pipeline. "
        f"See {api.url}/octo/pipeline/actions, or pass --run-id.")


def test_a_run_that_waits_for_another_environment_is_a_clear_error(api, environ):
    arrange_waiting_run(api, env="production")
    with pytest.raises(UsageError) as caught:
        approve_deployment(TL, "1.1", environ, "ada", **FAST)
    assert str(caught.value) == (
        f"Run 77 has no deployment waiting for environment {GATE} (it waits for: production). "
        f"Check the run ({api.url}/octo/pipeline/actions/runs/77) or pass the --run-id of the run that waits.")


def test_a_token_that_is_not_a_required_reviewer_is_told_what_to_do(api, environ):
    arrange_waiting_run(api)
    with pytest.raises(GitHubError) as caught:
        approve_deployment(TL, "1.1", environ | {"GITHUB_TOKEN": "token-bob"}, "bob", **FAST)
    assert str(caught.value) == (
        f"The token's user may not approve environment {GATE}: it is not one of its required reviewers "
        f"(ada). Approve in the run page ({api.url}/octo/pipeline/actions/runs/77) as a reviewer, or have an admin "
        "add you: `gitops setup-github --reviewer YOUR-LOGIN`.")
    assert api.github.runs[77]["status"] == "waiting"


def test_a_reviewer_may_not_approve_a_run_they_started_when_self_review_is_prevented(api, environ):
    api.github.add_environment(GATE, reviewers=(("User", 1),), env_id=500, prevent_self_review=True)
    api.github.add_run(77, ".github/workflows/b-1006.yml", waiting_for=(GATE,), actor="ada")
    with pytest.raises(GitHubError):
        approve_deployment(TL, "1.1", environ | {"GITHUB_TOKEN": "token-ada"}, "ada", **FAST)
    assert api.github.runs[77]["status"] == "waiting"


def test_a_422_from_the_approval_itself_is_surfaced_with_the_reviewer_hint(api, environ):
    arrange_waiting_run(api)
    api.fail(422, method="POST", path="/pending_deployments", message="Unprocessable Entity")
    with pytest.raises(GitHubError) as caught:
        approve_deployment(TL, "1.1", environ | {"GITHUB_TOKEN": "token-ada"}, "ada", **FAST)
    assert str(caught.value).startswith(
        f"GitHub refused approving run 77 for environment {GATE} (HTTP 422 Unprocessable Entity). "
        f"The token's user may not approve environment {GATE}")


@pytest.mark.parametrize(
    "gate, message",
    [
        ("phase-2", "Gate phase-2 is a phase gate: it is approved by merging the PR of phase 1 "
                    "(branch gitops/b-1006/phase-1), not with `gitops approve --forge github`."),
        ("deploy-9.9", "Unknown gate 'deploy-9.9'. Gates are task ids (e.g. 1.1), deploy-<task> and phase-N; "
                       "tasks: 1.1, 2.1."),
    ],
)
def test_gates_without_an_environment_are_refused_before_any_call(api, environ, gate, message):
    with pytest.raises(UsageError) as caught:
        approve_deployment(TL, gate, environ, "ada", **FAST)
    assert str(caught.value) == message
    assert api.requests == []
