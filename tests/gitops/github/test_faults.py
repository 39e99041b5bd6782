"""Fault injection: GitHub's 5xx, rate limits, 422s, slow answers and bad tokens end in a retry
that succeeds or in one GitHubError that says what to do; never a traceback, never a duplicate."""
from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from gitops.github.api import GitHubError
from tests.gitops.github.conftest import make_forge

LABELS = ["hotfix", "task:2.1"]


def open_issue(forge):
    return forge.open_issue("hotfix:2.1", "T-HotFix-1", "error", LABELS)


def failure(forge) -> str:
    with pytest.raises(GitHubError) as caught:
        open_issue(forge)
    return str(caught.value)


def test_5xx_answers_are_retried_until_one_succeeds(api, forge):
    api.fail(502, times=2)
    assert open_issue(forge).endswith("/issues/1")
    assert [r.path for r in api.requests[:3]] == ["/repos/octo/pipeline"] * 3
    assert len(api.github.issues) == 1


def test_a_5xx_on_a_post_is_not_resent_and_the_next_call_finds_what_landed(api, forge):
    api.fail(502, method="POST", path="/issues", applied=True)  # GitHub opened it, then the proxy failed
    assert failure(forge) == ("GitHub failed while opening issue hotfix:2.1 (HTTP 502 Server Error). Nothing is "
                              "lost: the next gitops command tries again (writes are idempotent).")
    assert [r.method for r in api.requests].count("POST") == 1
    open_issue(forge)
    assert len(api.github.issues) == 1


def test_a_5xx_on_an_edit_is_retried(api, forge):
    open_issue(forge)
    api.fail(503, method="PATCH")
    forge.open_issue("hotfix:2.1", "T-HotFix-1", "new error", LABELS)
    assert [r.method for r in api.requests].count("PATCH") == 2
    assert api.github.issues[1]["body"].endswith("new error")


def test_endless_5xx_is_one_clear_error_noted_in_the_job_summary(api, environ, forge, capsys):
    api.fail(502, times=100)
    message = ("GitHub kept failing while reading repository octo/pipeline (too many 502 error responses; "
               "gave up after 2 retries). Nothing is lost: the next gitops command tries again.")
    assert failure(forge) == message
    assert len(api.requests) == 3  # the first try and two retries: bounded
    summary = Path(environ["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary == f"> [!WARNING]\n> **gitops could not update GitHub (opening issue hotfix:2.1)**: {message}\n\n"
    assert capsys.readouterr().out.startswith(
        "::warning title=gitops could not update GitHub (opening issue hotfix%3A2.1)::GitHub kept failing")


@pytest.mark.parametrize("status", [429, 403])
def test_a_secondary_rate_limit_is_waited_out_as_retry_after_says(api, forge, status):
    api.rate_limit(status, retry_after=1)
    open_issue(forge)
    assert api.requests[0].path == api.requests[1].path == "/repos/octo/pipeline"
    assert api.early == []  # the stand-in saw no request before Retry-After had passed
    assert len(api.github.issues) == 1


def test_a_primary_rate_limit_is_waited_out_until_its_reset(api, forge):
    api.rate_limit(403, retry_after=1, primary=True)
    open_issue(forge)
    assert api.early == []
    assert len(api.github.issues) == 1


def test_a_rate_limit_longer_than_we_accept_is_reported_not_waited(api, forge):
    api.rate_limit(403, retry_after=3600, primary=True)
    assert re.fullmatch(
        r"GitHub's rate limit asks for a wait of 36\d\d s while reading repository octo/pipeline, longer than "
        r"the 5 s we accept; run the command again later\.", failure(forge))
    assert len(api.requests) == 1


def test_a_422_is_surfaced_with_githubs_reasons_and_not_retried(api, forge):
    api.fail(422, method="POST", path="/issues", message="Validation Failed",
             errors=[{"resource": "Issue", "code": "custom", "field": "body",
                      "message": "body is too long (maximum is 65536 characters)"}])
    assert failure(forge) == ("GitHub refused opening issue hotfix:2.1 (HTTP 422 Validation Failed: "
                              "body is too long (maximum is 65536 characters)).")
    assert [r.method for r in api.requests].count("POST") == 1


def test_a_slow_answer_times_out_into_a_reported_failure_and_is_not_resent(api, environ):
    forge = make_forge(environ, timeout=1)
    api.slow(5, method="POST", path="/issues")
    assert failure(forge) == ("GitHub did not answer within 1 s while opening issue hotfix:2.1. Nothing is lost: "
                              "the next gitops command tries again (writes are idempotent).")
    assert [r.method for r in api.requests].count("POST") == 1  # a timed-out POST may have landed: never resend
    assert "did not answer within 1 s" in Path(environ["GITHUB_STEP_SUMMARY"]).read_text()


def test_a_bad_token_says_so(api, environ):
    forge = make_forge(environ | {"GITHUB_TOKEN": "expired"})
    assert failure(forge) == ("GitHub refused reading repository octo/pipeline (HTTP 401 Bad credentials). "
                              "GITHUB_TOKEN is not a valid token: set a current one.")


def test_an_unreachable_api_names_the_url_to_check(environ):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    message = failure(make_forge(environ | {"GITHUB_API_URL": url}))
    assert message.startswith(f"Cannot reach the GitHub API at {url} while reading repository octo/pipeline (")
    assert message.endswith("Connection refused). Check GITHUB_API_URL and the network; the next gitops command "
                            "tries again.")


def test_a_post_that_lands_after_the_client_gave_up_leaves_one_open_issue(api, environ):
    forge = make_forge(environ, timeout=1)
    late = api.slow(3, method="POST", path="/issues")
    failure(forge)  # timed out; GitHub still opens it, later
    open_issue(make_forge(environ))  # the next command finds nothing yet and opens one
    assert late.served.wait(10)  # now the first POST landed too: two issues carry the marker
    assert sorted(api.github.issues) == [1, 2]
    assert open_issue(make_forge(environ)).endswith("/issues/1")  # the next look-up keeps the oldest
    assert [(n, i["state"], i["state_reason"]) for n, i in sorted(api.github.issues.items())] == [
        (1, "open", None), (2, "closed", "not_planned")]
    assert [c["body"] for c in api.github.comments_on(2)] == [
        "Duplicate of #1: a request that had timed out opened this issue late."]
