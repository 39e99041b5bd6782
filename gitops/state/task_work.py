"""The task's work beside its state: the files a task changed, committed with the state commit.

A task job's store (`checkout=True`) first merges the phase branch into the job's checkout
(`sync`), so a task sees what earlier tasks of its phase changed (and main's newer commits, such
as a HotFix); then every state commit also holds the files the task changed in the checkout
(`git status`, .gitignore respected), so the phase PR shows the work beside the state. A
recording job's store commits work handed over by a task job instead (`carry`), never writing
its checkout. Two jobs that change one file differently do not overwrite each other: the second
fails with a conflict naming the file.
"""
from __future__ import annotations

import os
from typing import Mapping

from gitops.errors import WorkNotPushed
from gitops.state.git_repo import GitRepo, GitSyncError

Entry = tuple[str, str]  # (mode, blob): an index entry
Files = Mapping[str, tuple[tuple[str, bytes] | None, str | None]]  # path -> ((mode, content) | deleted, blob began from)


class WorkConflict(GitSyncError, WorkNotPushed):
    """A file this job changed was changed differently on the phase branch since the job began."""


class TaskWork:
    """The work the next state commit carries, checked against the branch it goes to."""

    def __init__(self, git: GitRepo, remote: str, branch: str, base: str, state_path: str, checkout: bool):
        self.git = git
        self.remote, self.branch, self.base, self.state_path = remote, branch, base, state_path
        self.checkout = checkout  # each state commit also carries the checkout's changed files
        # What this store pushed of the task's work, path -> blob (None: deleted): a later change
        # or deletion of such a file must follow, and is compared with it, not with the checkout.
        self._carried: dict[str, str | None] = {}
        self._pending: dict[str, str | None] = {}
        # A recording job's store carries work handed over by a task job (`carry`), not its checkout's.
        self._handed: dict[str, tuple[str, bytes] | None] = {}
        self._handed_base: dict[str, str | None] = {}

    # ------------------------------------------------------------ into a commit
    def entries(self, parent: str | None, tip: str | None) -> dict[str, Entry | None]:
        """The index entries the next commit on `parent` carries (None: deleted); WorkConflict when
        the branch (`tip`) changed one of them since the job began."""
        work = self._checkout_work(parent, tip) if self.checkout else self._handed_work(parent, tip) if self._handed else {}
        self._pending = {path: entry[1] if entry else None for path, entry in work.items()}
        return work

    def pushed(self) -> None:
        """The commit with the entries last given was pushed: later changes follow on from them."""
        self._carried.update(self._pending)

    def drop(self) -> None:
        """After a conflict: from now on the store records the state alone (Runner.execute)."""
        self.checkout = False
        self._handed = {}

    # ------------------------------------------------------------ a task job's checkout
    def sync(self, tip: str | None, where: str | None) -> str:
        """Merge the fetched branch tip (`where`: its label, None when the branch does not exist yet)
        into the job's checkout (a local merge, never pushed); say what happened."""
        if tip is None or where is None:
            return f"{self.remote}/{self.branch} does not exist yet: the task runs on the checkout as it is"
        if self.git.run("merge-base", "--is-ancestor", tip, "HEAD").returncode == 0:
            return f"the checkout already holds {where} ({tip[:12]})"
        self._unshallow()
        merged = self.git.run("merge", "--no-edit", "--no-ff", "-m", f"gitops: the work of {where}", tip,
                              env=self.git.identity())
        if merged.returncode != 0:
            conflicts = self.git.run("diff", "--name-only", "--diff-filter=U").stdout.split()
            self.git.run("merge", "--abort")
            self.checkout = False  # the task will not run: its state is recorded alone
            raise WorkConflict(
                f"{where} ({tip[:12]}) does not merge into this checkout"
                + (f": both changed {', '.join(conflicts)}" if conflicts else f": {self.git.redact(merged.stderr.strip())}")
                + f". Merge {self.base} into {self.branch}, resolve the conflicts, push, and run the job again."
            )
        return f"merged {where} ({tip[:12]}) into the checkout: the task sees its phase's earlier work"

    def _unshallow(self) -> None:
        """A merge needs history: fetch it if the checkout is shallow (actions/checkout's default depth 1)."""
        if self.git.out("rev-parse", "--is-shallow-repository") != "true":
            return
        fetched = self.git.run("fetch", "--quiet", "--unshallow", "--no-tags", self.remote)
        if fetched.returncode != 0:
            raise GitSyncError(f"the checkout is shallow and its history could not be fetched "
                               f"({self.git.redact(fetched.stderr.strip())}): check out with fetch-depth: 0 "
                               "(`gitops render` writes that into the task jobs)")

    def _changed(self) -> set[str]:
        """The checkout's changed paths (.gitignore respected)."""
        listing = self.git.run("status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames")
        if listing.returncode != 0:
            raise GitSyncError(f"git status failed in {self.git.repo_dir}: {listing.stderr.strip()}")
        # A path ending in "/" is a folder git will not list into (a nested repository): skipped.
        return {item[3:] for item in filter(None, listing.stdout.split("\0")) if not item.endswith("/")}

    def _checkout_work(self, parent: str | None, tip: str | None) -> dict[str, Entry | None]:
        """The checkout's changed files as index entries ((mode, blob), None: deleted), checked against `tip`."""
        changed = self._changed()
        paths = [path for path in sorted(changed | set(self._carried)) if self._is_work(path)]
        began = {path: self._carried[path] if path in self._carried else self.git.blob("HEAD", path) for path in paths}
        return self._checked(parent, tip, {path: self._entry(path) for path in paths}, began)

    def _is_work(self, path: str) -> bool:
        # The state is written by the store; engine work files are not the task's work.
        return path != self.state_path and not path.startswith(".gitops/")

    def _entry(self, path: str) -> Entry | None:
        """The index entry of the checkout's `path`, (mode, blob); None when the file is gone."""
        file = self.git.repo_dir / path
        if file.is_symlink():
            return "120000", self.git.out("hash-object", "-w", "--stdin", input=os.readlink(file))
        if not file.exists():
            return None
        return ("100755" if os.access(file, os.X_OK) else "100644"), self.git.out("hash-object", "-w", "--", path)

    def files(self) -> dict[str, tuple[tuple[str, bytes] | None, str | None]]:
        """The task's work in the checkout, to hand over: path -> ((mode, content) or None: deleted, the blob
        the task began from). Nothing is written to the object store; the recording job commits it (`carry`)."""
        files: dict[str, tuple[tuple[str, bytes] | None, str | None]] = {}
        for path in sorted(p for p in self._changed() if self._is_work(p)):
            file = self.git.repo_dir / path
            if file.is_symlink():
                content: tuple[str, bytes] | None = ("120000", os.fsencode(os.readlink(file)))
            elif file.is_file():
                content = ("100755" if os.access(file, os.X_OK) else "100644", file.read_bytes())
            else:
                content = None
            files[path] = (content, self.git.blob("HEAD", path))
        return files

    # ------------------------------------------------------------ a recording job's hand-over
    def carry(self, files: Files) -> None:
        """Commit `files` (as `files()` gives them, handed over by a task job) with the next state
        commit, checked for conflicts like a task job's own work; the checkout is never written."""
        self._handed = {path: content for path, (content, _) in files.items()}
        self._handed_base = {path: base for path, (_, base) in files.items()}

    def _handed_work(self, parent: str | None, tip: str | None) -> dict[str, Entry | None]:
        entries = {path: None if content is None else (content[0], self.git.hash(content[1]))
                   for path, content in self._handed.items() if self._is_work(path)}
        began = {path: self._carried.get(path, self._handed_base[path]) for path in entries}
        return self._checked(parent, tip, entries, began)

    # ------------------------------------------------------------ conflicts
    def _checked(self, parent: str | None, tip: str | None, work: Mapping[str, Entry | None],
                 began: Mapping[str, str | None]) -> dict[str, Entry | None]:
        """The entries of `work` that `parent` does not hold yet; WorkConflict when the branch (`tip`,
        before this job's history commits on it) changed one since `began`."""
        entries: dict[str, Entry | None] = {}
        conflicts = []
        for path, entry in work.items():
            ours, now = (entry[1] if entry else None), self.git.blob(tip, path)
            if self.git.blob(parent, path) == ours:
                continue  # already there (an earlier commit of this job, or the same change)
            if now not in (ours, began[path]):
                conflicts.append(path)
            entries[path] = entry
        if conflicts:
            raise WorkConflict(
                f"{self.remote}/{self.branch} changed {', '.join(sorted(conflicts))} since this job began, and so "
                "did this task: nothing was pushed. Run the task again on the new branch tip (retry it)."
            )
        return entries
