"""A task's history commits (gitops.run.history_commits): each version of a work file a commit of
its own, in order, chained on the branch tip below the state commit."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Protocol, Sequence

from gitops.state.git_repo import GitRepo


class Version(Protocol):
    """One version of a work file to commit on its own (gitops.run.history_commits.HistoryCommit)."""

    @property
    def path(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def message(self) -> str: ...


def chain(git: GitRepo, parent: str, versions: Sequence[Version]) -> str:
    """The chain of history commits on `parent`; its tip (`parent` when there is none). A version
    identical to the file before it makes no commit."""
    for version in versions:
        blob = git.hash(version.content.encode("utf-8"))
        with tempfile.TemporaryDirectory(prefix="gitops-index-") as temp:
            env = {"GIT_INDEX_FILE": str(Path(temp) / "index")}
            git.out("read-tree", parent, env=env)
            entry = f"{git.mode(parent, version.path)},{blob},{version.path}"
            git.out("update-index", "--add", "--cacheinfo", entry, env=env)
            tree = git.out("write-tree", env=env)
        if tree != git.out("rev-parse", f"{parent}^{{tree}}"):
            parent = git.out("commit-tree", tree, "-p", parent, "-m", version.message, env=git.identity())
    return parent
