"""How the handler may push to the branch a production follows: a deploy key from the environment, or git's own.

On GitHub the job that runs task code holds no write token to the repository (gitops/github/workflow.py,
_task_job), so the push credential is one of its own: the private half of an SSH deploy key with
write access to the repository production follows, stored as the `production` environment's
secret GITOPS_PRODUCTION_DEPLOY_KEY. Only jobs behind that environment (a reviewer approves each
deployment) receive it, and it opens only that repository: production's declaration is exactly
what the approved job is there to change. Elsewhere git's own configuration may do instead.
"""
from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

DEPLOY_KEY = "GITOPS_PRODUCTION_DEPLOY_KEY"


def git_environment(environ: Mapping[str, str], folder: Path) -> dict[str, str]:
    """What git needs to push with the deploy key of `environ` (written 0600 under `folder`); {} without one."""
    key = environ.get(DEPLOY_KEY, "").strip()
    if not key:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "production-deploy-key"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(key + "\n")  # ssh refuses a key file without its final newline
    # IdentitiesOnly: this key and no other the runner's agent might offer.
    return {"GIT_SSH_COMMAND": f"ssh -i {shlex.quote(str(path))} -o IdentitiesOnly=yes"}
