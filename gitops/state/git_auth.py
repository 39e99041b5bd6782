"""The token handed to git for one store's commands only: never in .git/config, a command line or a URL."""
from __future__ import annotations

import base64
import os
from typing import Mapping


def github_auth_env(token: str, server_url: str = "https://github.com", environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Git config in environment variables that sends `token` to `server_url` (as actions/checkout does).

    Passed to git through GIT_CONFIG_COUNT/KEY/VALUE (git >= 2.31): the token never lands in
    .git/config, on a command line (visible in `ps`), or in a remote URL that git may print.
    """
    env = dict(os.environ if environ is None else environ)
    count = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    env.update({
        "GIT_CONFIG_COUNT": str(count + 1),
        f"GIT_CONFIG_KEY_{count}": f"http.{server_url.rstrip('/')}/.extraheader",
        f"GIT_CONFIG_VALUE_{count}": f"AUTHORIZATION: basic {basic}",
    })
    return env
