"""Fixtures: the GitHub stand-in on 127.0.0.1 and a GitHubForge (real PyGithub over HTTP) against it."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from gitops.github.api import GitHubSettings
from gitops.github.forge import GitHubForge
from tests.gitops.github.standin import StandIn

BOT_TOKEN = "ghs_tokenofthebot0000000000000000000000"
# Fast and bounded: no pacing between requests, no backoff between retries, short timeouts.
FAST = {"timeout": 2, "retries": 2, "backoff": 0.0, "max_wait": 5.0,
        "seconds_between_requests": 0.0, "seconds_between_writes": 0.0}


@pytest.fixture
def api() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


def actions_environ(api: StandIn, tmp_path: Any, token: str = BOT_TOKEN, **extra: str) -> dict[str, str]:
    """What a workflow job sees, pointed at the stand-in."""
    summary = tmp_path / "summary.md"
    return {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "octo/pipeline", "GITHUB_TOKEN": token,
            "GITHUB_API_URL": api.url, "GITHUB_SERVER_URL": api.url, "GITHUB_RUN_ID": "77",
            "GITHUB_STEP_SUMMARY": str(summary), **extra}


@pytest.fixture
def environ(api: StandIn, tmp_path: Any) -> dict[str, str]:
    return actions_environ(api, tmp_path)


def make_forge(environ: dict[str, str], **transport: Any) -> GitHubForge:
    settings = GitHubSettings.from_environ(environ, **{**FAST, **transport})
    return GitHubForge(settings, "b-1006", environ)


@pytest.fixture
def forge(environ: dict[str, str]) -> GitHubForge:
    return make_forge(environ)
