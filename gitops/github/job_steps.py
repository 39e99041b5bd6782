"""What every job of a rendered workflow is built from: pinned actions, the set-up steps, the
`gitops` command line, permissions with their reasons, and names that stay text."""
from __future__ import annotations

import shlex
from typing import Any

PYTHON_VERSION = "3.11"
# Pinned to full commit SHAs (a tag can be moved; a SHA cannot); the version goes in a comment.
ACTIONS = {
    "checkout": ("actions/checkout", "11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "setup-python": ("actions/setup-python", "a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "cache": ("actions/cache", "5a3ec84eff668545956fd18022155c47e93e2684", "v4.2.3"),
    # Restore without the post-job save: https://github.com/actions/cache/tree/main/restore
    "cache-restore": ("actions/cache/restore", "5a3ec84eff668545956fd18022155c47e93e2684", "v4.2.3"),
    # The task job's result goes to its recording job as an artifact (gitops.github.task_jobs.record_job).
    "upload-artifact": ("actions/upload-artifact", "ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    "download-artifact": ("actions/download-artifact", "d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
}
# Every job bootstraps the same venv (dspy, mlflow: minutes); it is restored from the cache while
# the Python (its exact version: a venv points at its interpreter) and the pins are the same.
# uv's download cache rides along for the next change of pins.
VENV_CACHE = {
    "path": ".venv\n~/.cache/uv",
    "key": "gitops-venv-${{ runner.os }}-${{ steps.python.outputs.python-version }}-"
           "${{ hashFiles('pyproject.toml', 'constraints.txt') }}",
}
SHORT_JOB_MINUTES = 30  # plan, gate and report jobs; task jobs keep GitHub's 6-hour default

# Written into `env:` and read as shell variables: an expression expanded inside `run:`
# would be pasted into the script as code (template injection), so none appears there.
TOKEN_ENV = {"GITHUB_TOKEN": "${{ github.token }}"}
# The PR-merge fallback is chosen with a repository variable (gitops.github.preflight).
GATES_ENV = {"GITOPS_GATES": "${{ vars.GITOPS_GATES }}"}


def gitops_command(tasklist_path: str, args: str) -> str:
    # `gitops` is on PATH once the Bootstrap step ran (scripts/bootstrap appends to $GITHUB_PATH).
    return f"gitops --forge github --tasklist {shlex.quote(tasklist_path)} {args}"


def setup_steps(history: bool = False, task_code: bool = False) -> list[dict[str, Any]]:
    """Checkout, Python, bootstrap; `history`: the whole history, so that run-task can merge
    the phase branch into the checkout (gitops.state.git_store.GitStateStore.sync_worktree).
    `task_code`: the job runs task code, so it only restores the venv: a cache it saved after the
    task ran could carry a venv the task changed into the jobs that hold the write token."""
    repo, sha, _ = ACTIONS["checkout"]
    python, python_sha, _ = ACTIONS["setup-python"]
    cache, cache_sha, _ = ACTIONS["cache-restore" if task_code else "cache"]
    checkout: dict[str, Any] = {"persist-credentials": False}
    if history:
        checkout["fetch-depth"] = 0
    return [
        # No job keeps the token in .git/config: the jobs that push hand it to git through the
        # environment (gitops.state.git_auth.github_auth_env), only for the git calls that need it.
        {"uses": f"{repo}@{sha}", "with": checkout},
        {"id": "python", "uses": f"{python}@{python_sha}", "with": {"python-version": PYTHON_VERSION}},
        {"name": "Restore the environment", "uses": f"{cache}@{cache_sha}", "with": dict(VENV_CACHE)},
        {"name": "Bootstrap", "run": "scripts/bootstrap"},
    ]


def job_permissions(**granted: tuple[str, str]) -> dict[str, str]:
    """Job permissions, sorted, each with the reason it is needed (written as a YAML comment)."""
    return {key.replace("_", "-"): f"{level} # {why}" for key, (level, why) in sorted(granted.items())}


def job_name(text: str) -> str:
    # Job names are expanded as expressions; task list text must stay text.
    text = " ".join(text.replace("${{", "$ {{").split())
    return text if len(text) <= 100 else text[:97] + "..."
