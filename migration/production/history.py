"""Production's history: every rollout step and rollback is a commit of deploy/production.yaml.

Locally the commits go to a branch of their own (`gitops/production` by default), made with git
plumbing (hash-object, a temporary index, commit-tree, update-ref) as `gitops.state.history_chain`
does: HEAD, the index and the working tree are never touched, so a run does not mix deployment
commits into the branch a person is working on, nor trip over their uncommitted edits. The
branch starts from HEAD; `git log gitops/production -- deploy/production.yaml` reads the history.

On GitHub (GITHUB_ACTIONS=true) the runner's checkout is thrown away with the job, so each new
commit is also recorded as a history commit of the task (gitops.run.history_commits): the
recording job commits them one by one on the phase branch, where the phase PR shows them
(`HandedHistory`). The local commits stay: the handler reads the declaration back and logs the
history the same way everywhere (docs/production.md, *Production's history*).
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping

from gitops.run import history_commits
from migration.production.spec import SPEC_PATH

BRANCH = "gitops/production"
AUTHOR = ("gitops production", "gitops-production@localhost")


class HistoryError(RuntimeError):
    """A git command failed; the message names it."""


def in_git_repo(root: Path) -> bool:
    """Whether `root` is a git checkout with a first commit (the history branch starts from HEAD)."""
    return subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet", "HEAD"],
                          capture_output=True).returncode == 0


class GitHistory:
    """Commits deploy/production.yaml's successive texts to `branch` of the repository at `root`."""

    def __init__(self, root: Path, branch: str = BRANCH, path: Path = SPEC_PATH) -> None:
        self.root, self.branch, self.path = root, branch, path.as_posix()
        self.commits: list[tuple[str, str]] = []  # (sha, message) made by this object

    def _git(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        name, email = AUTHOR
        identity = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
                    "GIT_COMMITTER_EMAIL": email}
        proc = subprocess.run(["git", "-C", str(self.root), *args], input=input, capture_output=True, text=True,
                              env={**os.environ, **identity, **(env or {})})
        if proc.returncode != 0:
            raise HistoryError(f"`git {' '.join(args)}` in {self.root} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def tip(self) -> str | None:
        try:
            return self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{self.branch}")
        except HistoryError:
            return None

    def record(self, text: str, message: str) -> str:
        """Commit `text` as deploy/production.yaml on the branch; returns the commit (no commit when unchanged)."""
        parent = self.tip() or self._git("rev-parse", "HEAD")
        blob = self._git("hash-object", "-w", "--stdin", input=text)
        with tempfile.TemporaryDirectory(prefix="gitops-production-") as temp:
            env = {"GIT_INDEX_FILE": str(Path(temp) / "index")}
            self._git("read-tree", parent, env=env)
            self._git("update-index", "--add", "--cacheinfo", f"100644,{blob},{self.path}", env=env)
            tree = self._git("write-tree", env=env)
        if tree == self._git("rev-parse", f"{parent}^{{tree}}"):
            return parent
        commit = self._git("commit-tree", tree, "-p", parent, "-m", message)
        # The old value guards against a concurrent writer: update-ref fails if the branch moved.
        self._git("update-ref", f"refs/heads/{self.branch}", commit, *([self.tip()] if self.tip() else []))
        self.commits.append((commit, message))
        return commit

    def read(self) -> str | None:
        """deploy/production.yaml as last committed on the branch, None without the branch."""
        tip = self.tip()
        return self._git("show", f"{tip}:{self.path}") + "\n" if tip else None

    def log(self, limit: int = 50) -> list[str]:
        """The branch's commit subjects touching the file, newest first."""
        if self.tip() is None:
            return []
        out = self._git("log", f"-{limit}", "--format=%h %s", f"refs/heads/{self.branch}", "--", self.path)
        return out.splitlines()


class HandedHistory(GitHistory):
    """A GitHistory whose every new commit is also a history commit handed over from the task's `workdir`."""

    def __init__(self, root: Path, workdir: Path, branch: str = BRANCH, path: Path = SPEC_PATH) -> None:
        super().__init__(root, branch, path)
        self.workdir = workdir

    def record(self, text: str, message: str) -> str:
        made = len(self.commits)
        commit = super().record(text, message)
        if len(self.commits) > made:  # an unchanged text made no commit here: none on the phase branch either
            history_commits.record(self.workdir, self.path, text, message)
        return commit


def for_task(root: Path, workdir: Path, environ: Mapping[str, str]) -> GitHistory | None:
    """The history a handler commits to: handed over too in a GitHub Actions job, None outside a git checkout."""
    if not in_git_repo(root):
        return None
    return HandedHistory(root, workdir) if environ.get("GITHUB_ACTIONS") == "true" else GitHistory(root)
