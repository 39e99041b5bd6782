"""One clone, driven with git's plumbing: commands run without any code the checkout could set, their
output with every credential masked, and the objects (blobs, modes) the state store commits from."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Mapping

from gitops.errors import GitopsError

# Git runs here with the token in its environment (gitops.state.git_auth), in a checkout that task code
# has just written to: hooks (.git/hooks, core.hooksPath) and an fsmonitor command set in .git/config
# would run task code with the token. None of them runs for the store's commands:
# https://git-scm.com/docs/githooks, https://git-scm.com/docs/git-config#Documentation/git-config.txt-corefsmonitor
NO_CHECKOUT_CODE = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "credential.helper=")


class GitSyncError(GitopsError):
    """A git command failed for a reason other than a lost race (network, permissions)."""


class GitRepo:
    """git in `repo_dir` with `environ` (which may carry the token); commits made as `author`."""

    def __init__(self, repo_dir: Path, environ: Mapping[str, str], author: tuple[str, str]):
        self.repo_dir = Path(repo_dir)
        self.environ = environ  # the store's own: git sees what it holds
        self.author = author

    def run(self, *args: str, input: str | bytes | None = None, env: Mapping[str, str] | None = None,
            text: bool = True) -> subprocess.CompletedProcess:
        full_env = {**self.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        return subprocess.run(
            ["git", "-c", "gc.auto=0", "-c", "maintenance.auto=false", *NO_CHECKOUT_CODE, *args],
            cwd=self.repo_dir, env=full_env, input=input, capture_output=True, text=text, check=False,
        )

    def out(self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None) -> str:
        """The command's output; GitSyncError when it fails."""
        result = self.run(*args, input=input, env=env)
        if result.returncode != 0:
            raise GitSyncError(f"git {args[0]} failed in {self.repo_dir}: {self.redact(result.stderr.strip())}")
        return result.stdout.strip()

    def redact(self, text: str) -> str:
        """Git output with every credential this store was given replaced by ***."""
        for key, value in self.environ.items():
            if value and len(value) >= 8 and (key.startswith("GIT_CONFIG_VALUE_") or "TOKEN" in key):
                text = text.replace(value, "***")
                text = text.replace(value.rsplit(" ", 1)[-1], "***")
        return text

    def identity(self) -> dict[str, str]:
        name, email = self.author
        return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}

    def hash(self, content: bytes) -> str:
        """The blob of `content`, written to the object store."""
        result = self.run("hash-object", "-w", "--stdin", input=content, text=False)
        if result.returncode != 0:
            raise GitSyncError(f"git hash-object failed in {self.repo_dir}: {result.stderr.decode(errors='replace').strip()}")
        return result.stdout.decode().strip()

    def blob(self, commit: str | None, path: str) -> str | None:
        """The blob of `path` in `commit`; None when either is missing."""
        if commit is None:
            return None
        found = self.run("rev-parse", "--verify", "--quiet", f"{commit}:{path}")
        return found.stdout.strip() if found.returncode == 0 else None

    def mode(self, commit: str, path: str) -> str:
        """The file's mode in `commit` (an executable stays one), 100644 for a new file."""
        listed = self.run("ls-tree", commit, "--", path).stdout.split()
        return listed[0] if listed and listed[0] in ("100644", "100755") else "100644"
