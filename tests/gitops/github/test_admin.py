"""setup-github and pending-deployment approval over real HTTP: idempotent setup, reviewers by
name, the plan limitation, and approvals with their clear errors."""
from __future__ import annotations

import dataclasses

import pytest

from gitops.errors import UsageError
from gitops.github.api import GitHubError
from gitops.github.commands import approve_deployment, setup_github
from tests.gitops.builders import task, tasklist
from tests.gitops.github.conftest import FAST, make_forge

TL = dataclasses.replace(tasklist(task("1.1", pause=True), task("2.1", ("1.1",))), path="migration/B-1006.md")
PLAN = ("Required reviewers on environments work in public repositories on every plan; in private repositories "
        "they need GitHub Enterprise. Without them a job does not wait for anybody. Fallback: gate by PR merge: "
        "leave the environments without reviewers and protect the default branch instead (require a review); "
        "a phase advances only when its PR is merged.")


def snapshot(api):
    gh = api.github
    return {name: (env["reviewers"], env["wait_timer"]) for name, env in gh.environments.items()}, dict(gh.labels)


def test_setup_creates_environments_with_reviewers_and_labels_and_is_idempotent(api, environ):
    first = setup_github(TL, environ, ["ada", "octo/reviewers"], **FAST)
    assert first == [
        "environment b-1006-checkpoint: created with 2 required reviewer(s)",
        "environment production: created with 2 required reviewer(s)",
        "labels: 4 created (hotfix, gitops, task:1.1, task:2.1), 0 already present",
        f"Note: octo/pipeline is public. {PLAN}",
    ]
    state = snapshot(api)
    assert state[0] == {"b-1006-checkpoint": ([("User", 1), ("Team", 70)], 0),
                        "production": ([("User", 1), ("Team", 70)], 0)}
    writes = len(api.writes())
    second = setup_github(TL, environ, ["ada", "octo/reviewers"], **FAST)
    assert second[:3] == [
        "environment b-1006-checkpoint: already set up",
        "environment production: already set up",
        "labels: 0 created, 4 already present",
    ]
    assert snapshot(api) == state and len(api.writes()) == writes


def test_changed_reviewers_update_the_environment_and_no_reviewers_keep_them(api, environ):
    setup_github(TL, environ, ["ada"], checkpoint_env="gate", **FAST)
    assert setup_github(TL, environ, ["bob"], checkpoint_env="gate", **FAST)[0] == (
        "environment gate: updated with 1 required reviewer(s)")
    assert api.github.environments["gate"]["reviewers"] == [("User", 2)]
    out = setup_github(TL, environ, [], checkpoint_env="gate", **FAST)
    assert out[0] == "environment gate: already set up (reviewers kept)"
    assert out[-2] == ("No --reviewer given: the environments exist, but no job waits for a person. "
                       "Run again with --reviewer LOGIN (or --reviewer org/team).")
    assert api.github.environments["gate"]["reviewers"] == [("User", 2)]


def test_on_a_private_repository_refused_reviewers_fall_back_with_the_plan_note(api, environ):
    api.github.private = True
    out = setup_github(TL, environ, ["ada"], **FAST)
    assert out[0] == (
        "environment b-1006-checkpoint: created WITHOUT required reviewers: GitHub refused them (HTTP 422). " + PLAN)
    assert out[-1] == f"Note: octo/pipeline is private. {PLAN}"
    assert api.github.environments["b-1006-checkpoint"]["reviewers"] == []


def test_an_unknown_reviewer_is_a_clear_error(api, environ):
    with pytest.raises(GitHubError) as caught:
        setup_github(TL, environ, ["nobody"], **FAST)
    assert str(caught.value) == ("GitHub refused looking up user nobody (HTTP 404 Not Found). "
                                 "Give users by their GitHub login.")


def arrange_waiting_run(api, run_id=77, env="b-1006-checkpoint", reviewers=(("User", 1),)):
    api.github.environments[env] = {"id": 500, "wait_timer": 0, "reviewers": list(reviewers),
                                    "prevent_self_review": False, "created_at": "", "updated_at": ""}
    api.github.add_run(run_id, ".github/workflows/b-1006.yml", waiting_for=(env,))


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
    api.github.add_run(81, ".github/workflows/ci.yml", waiting_for=("b-1006-checkpoint",))
    api.github.add_run(79, ".github/workflows/b-1006.yml", waiting_for=("b-1006-checkpoint",))
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
        "Run 77 has no deployment waiting for environment b-1006-checkpoint (it waits for: production). "
        f"Check the run ({api.url}/octo/pipeline/actions/runs/77) or pass the --run-id of the run that waits.")


def test_a_token_that_is_not_a_required_reviewer_is_told_what_to_do(api, environ):
    arrange_waiting_run(api)
    with pytest.raises(GitHubError) as caught:
        approve_deployment(TL, "1.1", environ | {"GITHUB_TOKEN": "token-bob"}, "bob", **FAST)
    assert str(caught.value) == (
        "The token's user may not approve environment b-1006-checkpoint: it is not one of its required reviewers "
        f"(ada). Approve in the run page ({api.url}/octo/pipeline/actions/runs/77) as a reviewer, or have an admin "
        "add you: `gitops setup-github --reviewer YOUR-LOGIN`.")
    assert api.github.runs[77]["status"] == "waiting"


def test_a_422_from_the_approval_itself_is_surfaced_with_the_reviewer_hint(api, environ):
    arrange_waiting_run(api)
    api.fail(422, method="POST", path="/pending_deployments", message="Unprocessable Entity")
    with pytest.raises(GitHubError) as caught:
        approve_deployment(TL, "1.1", environ | {"GITHUB_TOKEN": "token-ada"}, "ada", **FAST)
    assert str(caught.value).startswith(
        "GitHub refused approving run 77 for environment b-1006-checkpoint (HTTP 422 Unprocessable Entity). "
        "The token's user may not approve environment b-1006-checkpoint")


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


def test_changing_reviewers_keeps_a_wait_timer_people_set(api, environ):
    setup_github(TL, environ, ["ada"], **FAST)
    api.github.environments["production"]["wait_timer"] = 30
    setup_github(TL, environ, ["bob"], **FAST)
    assert api.github.environments["production"]["wait_timer"] == 30
