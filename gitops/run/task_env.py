"""What task code is given of the environment: everything except the engine's credentials.

On GitHub the job's GITHUB_TOKEN may write contents and issues. Task code (a **Run** command, a
handler, any package either installs) holding it could push to `gitops/**` and rewrite state.json
to mark a gate approved. The engine pushes with it; task code never sees it (issue 11, item 8). A
task that needs a token of its own gets it under another name (e.g. `TASK_GITHUB_TOKEN`).
"""
from __future__ import annotations

import re
from typing import Mapping

# The token itself and the names the GitHub CLI and Actions' runtime use for credentials:
# https://docs.github.com/en/actions/security-for-github-actions/security-guides/automatic-token-authentication
# https://cli.github.com/manual/gh_help_environment (GH_TOKEN, GITHUB_TOKEN, GH_ENTERPRISE_TOKEN)
CREDENTIALS = frozenset({
    "GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN",
    "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
})
# The Actions runtime: the runner gives a JavaScript or container action step the runtime token
# and the addresses of the services it opens (the cache, artifacts and results, OIDC tokens):
# ACTIONS_RUNTIME_URL/TOKEN, ACTIONS_CACHE_URL, ACTIONS_CACHE_SERVICE_V2, ACTIONS_RESULTS_URL,
# ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN. With them task code could save cache entries under keys the
# plan job has not saved yet (a venv it changed, restored by the jobs that hold the write token).
# GitHub's runner leaves them out of `run:` steps (https://github.com/actions/runner/pull/4325,
# open, would add them; https://github.com/actions/toolkit/issues/1053), but act, a self-hosted
# runner's patch or an earlier step writing them to $GITHUB_ENV puts them there; so the whole
# family is kept from task code, whatever its members are called next.
_RUNTIME = re.compile(r"ACTIONS_(RUNTIME|CACHE|RESULTS|ID_TOKEN)_\w*")
# git reads configuration from GIT_CONFIG_COUNT / GIT_CONFIG_KEY_<n> / GIT_CONFIG_VALUE_<n>
# (https://git-scm.com/docs/git-config#Documentation/git-config.txt-GITCONFIGCOUNT): the git store
# sends the token to git that way (gitops.state.git_auth.github_auth_env), so none of them is passed on.
_GIT_CONFIG_ENTRY = re.compile(r"GIT_CONFIG_(KEY|VALUE)_\d+")


def is_credential(name: str) -> bool:
    """A credential, or what reaches a service with one (the Actions runtime's addresses)."""
    return name in CREDENTIALS or bool(_GIT_CONFIG_ENTRY.fullmatch(name) or _RUNTIME.fullmatch(name))


def task_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without the engine's credentials: what a task's command or handler process gets."""
    return {name: value for name, value in environ.items() if not is_credential(name)}


def holds_credentials(environ: Mapping[str, str]) -> bool:
    """Whether task code run in this process could read a credential (so handlers run apart)."""
    return any(is_credential(name) and value for name, value in environ.items())
