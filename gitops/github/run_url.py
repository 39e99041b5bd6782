"""The web page of a GitHub Actions run, from the variables every job has.

GitHub sets GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_RUN_ID in every job
(https://docs.github.com/en/actions/reference/workflows-and-actions/variables#default-environment-variables).
Kept apart from the PyGithub code so the tracker and the runner can link a run without it.
"""
from __future__ import annotations

from typing import Mapping

DEFAULT_SERVER = "https://github.com"


def run_url(server_url: str, repository: str, run_id: int | str) -> str:
    return f"{server_url.rstrip('/')}/{repository}/actions/runs/{run_id}"


def current_run_url(environ: Mapping[str, str]) -> str | None:
    """This job's run, or None outside GitHub Actions."""
    if environ.get("GITHUB_RUN_ID") and environ.get("GITHUB_REPOSITORY"):
        return run_url(environ.get("GITHUB_SERVER_URL", DEFAULT_SERVER), environ["GITHUB_REPOSITORY"], environ["GITHUB_RUN_ID"])
    return None
