"""state.json on a branch of the git remote: every update is a commit, pushed without force.

`GitStateStore` is the StateStore of the GitHub Actions jobs. It never checks anything out:
the newest commit is fetched into a private ref, the new state.json is written with git
plumbing (hash-object, a temporary index, write-tree, commit-tree) and pushed by SHA. A push
that loses a race is rejected by the remote as a non-fast-forward; the store then fetches
again and re-applies the caller's change to the newer state (DESIGN §5), with exponential
backoff and jitter, so concurrent jobs never lose an update and history stays linear.

A state commit also carries the task's work (gitops.state.task_work: a task job's checkout, or
what a task job handed over to its recording job) and sits on top of the task's history commits
(gitops.state.history_chain). Git runs through gitops.state.git_repo; the token reaches it
through gitops.state.git_auth; which branch is a phase's is gitops.state.phase_branches.
"""
from __future__ import annotations

import contextlib
import copy
import os
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, ContextManager, Iterator, Mapping, Sequence

from gitops.errors import StateError
from gitops.state import file as state_io
from gitops.state.git_repo import GitRepo, GitSyncError
from gitops.state.history_chain import Version, chain
from gitops.state.schema import find_problem
from gitops.state.state_commit import describe, parse
from gitops.state.state_text import dumps
from gitops.state.task_work import Files, TaskWork, WorkConflict

# `git push --porcelain` reasons that mean "someone else moved the branch first".
RACE_REASONS = ("non-fast-forward", "fetch first", "stale info", "cannot lock ref",
                "failed to update ref", "incorrect old value")
# GitHub refuses a push now and then with this and accepts the same push a moment later: retried
# like a lost race (fetch, re-apply, push again).
TRANSIENT_REASONS = ("fatal error in commit_refs",)


class LostRace(Exception):
    """The remote branch moved between our fetch and our push."""


class GitStateStore:
    """The newest state.json of `branch` on `remote` (created from `base` on first write)."""

    def __init__(
        self,
        repo_dir: Path,
        remote: str,
        branch: str,
        path: str = "state.json",
        base: str = "main",
        author: tuple[str, str] = ("gitops", "gitops@users.noreply.github.com"),
        max_attempts: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        local_path: Path | None = None,
        environ: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        worktree: bool = False,
    ):
        self.repo_dir = Path(repo_dir)
        self.remote, self.branch, self.path, self.base = remote, branch, path, base
        self.author = author
        self.max_attempts, self.backoff, self.max_backoff = max_attempts, backoff, max_backoff
        self.local_path = Path(local_path) if local_path else self.repo_dir / path
        self.environ = dict(os.environ if environ is None else environ)
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.git = GitRepo(self.repo_dir, self.environ, author)
        # `worktree`: each state commit also carries the checkout's changed files.
        self.work = TaskWork(self.git, remote, branch, base, path, checkout=worktree)
        # Versions of work files it commits one by one before its next state commit (`carry_history`).
        self._history: tuple[Version, ...] = ()

    # ------------------------------------------------------------ StateStore
    def read(self) -> dict | None:
        """The state on the branch, else on base; None when neither has the file."""
        with self._fetched() as (ref, _tip, where):
            return self._load(ref, where) if ref else None

    def update(self, change: Callable[[dict], dict], create: Callable[[], dict] | None = None) -> dict:
        """Apply `change` to the newest state and push it as one commit; retried on a lost race."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                new = self._attempt(change, create)
            except WorkConflict:
                self.work.drop()  # from now on this store records the state alone (Runner.execute)
                self._history = ()  # nothing of the task's work is pushed
                raise
            except LostRace:
                if attempt == self.max_attempts:
                    break
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                self.sleep(delay * self.rng.uniform(0.5, 1.5))
                continue
            self.local_path.parent.mkdir(parents=True, exist_ok=True)
            state_io.save(self.local_path, new)  # later steps of the same job see it
            return new
        raise GitSyncError(
            f"{self.remote}/{self.branch}: {self.path} could not be updated: {self.max_attempts} pushes "
            "in a row lost a race with other writers. Re-run the job; if it persists, raise max_attempts."
        )

    def journaled(self) -> ContextManager[None]:
        return contextlib.nullcontext()  # every transition is a commit that others must see at once

    # ------------------------------------------------------------ the task's work (gitops.state.task_work)
    def sync_worktree(self) -> str:
        """Merge the phase branch into the job's checkout (a local merge, never pushed); say what happened."""
        with self._fetched() as (ref, tip, where):
            on_branch = ref is not None and where == self._branch_label()
            return self.work.sync(tip if on_branch else None, where if on_branch else None)

    def work_files(self) -> dict[str, tuple[tuple[str, bytes] | None, str | None]]:
        """The task's work in the checkout, to hand over (TaskWork.files)."""
        return self.work.files()

    def carry(self, files: Files) -> None:
        """Commit `files`, handed over by a task job, with the next state commit (TaskWork.carry)."""
        self.work.carry(files)

    def carry_history(self, commits: Sequence[Version]) -> None:
        """Commit each version in `commits` (handed over by a task job, validated) as a commit of its own,
        with its message, in order, before the next state commit; an unchanged version makes no commit."""
        self._history = tuple(commits)

    # ------------------------------------------------------------ one try
    def _attempt(self, change: Callable[[dict], dict], create: Callable[[], dict] | None) -> dict:
        with self._fetched() as (ref, tip, where):
            if tip is None:
                raise self._no_base()
            current = self._load(ref, where) if ref else None
            loaded = current is not None
            if current is None:
                if create is None:
                    raise StateError(f"{where} has no {self.path}. Run `gitops run` first to create it.")
                current = create()
            new = change(copy.deepcopy(current))
            if not isinstance(new, dict):
                raise TypeError(f"the change function must return the new state dict, got {type(new).__name__}")
            problem = find_problem(new)
            if problem:
                raise StateError(f"{self.branch}:{self.path}: refusing to commit an invalid state: "
                                 f"{problem.describe()}. This is a bug in gitops or a handler; nothing was pushed.")
            if loaded and dumps(new) == dumps(current):
                return new  # nothing changed: no empty commit, no new branch
            # The history goes first, the state commit on top; one push carries them all, so a lost
            # race rebuilds the whole chain on the new tip and nothing is pushed twice.
            parent = chain(self.git, tip, self._history)
            commit = self._commit(parent, dumps(new), describe(current, new, self.branch), checked_against=tip)
            self._push(commit)
            self.work.pushed()
            self._history = ()
            return new

    def _no_base(self) -> GitSyncError:
        # A first commit with no parent would start an orphan branch: a phase PR sharing no history
        # with the base, holding only state.json. Base missing means a wrong branch name or an
        # empty repository, which a person must fix; nothing is pushed.
        return GitSyncError(
            f"{self.remote} has neither {self.branch} nor its base branch {self.base}: refusing to start "
            f"{self.branch} as an unrelated (orphan) branch; nothing was pushed. Push {self.base} to {self.remote} "
            "first, or name the repository's default branch (the workflow sets GITOPS_DEFAULT_BRANCH from it)."
        )

    def _commit(self, parent: str | None, text: str, message: str, checked_against: str | None = None) -> str:
        """A commit of the state on `parent` with the task's work, checked for conflicts against
        `checked_against` (the branch tip before this job's history commits; default `parent`)."""
        tip = parent if checked_against is None else checked_against
        git = self.git
        blob = git.out("hash-object", "-w", "--stdin", input=text)
        with tempfile.TemporaryDirectory(prefix="gitops-index-") as temp:
            env = {"GIT_INDEX_FILE": str(Path(temp) / "index")}
            if parent:
                git.out("read-tree", parent, env=env)
            git.out("update-index", "--add", "--cacheinfo", f"100644,{blob},{self.path}", env=env)
            for path, entry in self.work.entries(parent, tip).items():
                if entry is None:
                    git.out("update-index", "--force-remove", "--", path, env=env)
                else:
                    git.out("update-index", "--add", "--cacheinfo", f"{entry[0]},{entry[1]},{path}", env=env)
            tree = git.out("write-tree", env=env)
        parents = ["-p", parent] if parent else []
        return git.out("commit-tree", tree, *parents, "-m", message, env=git.identity())

    def _push(self, commit: str) -> None:
        # Never --force: the remote accepts only a fast-forward of the tip it has now, so a
        # writer that raced with another one is rejected here instead of overwriting it.
        result = self.git.run("push", "--porcelain", "--no-verify", self.remote, f"{commit}:refs/heads/{self.branch}")
        if result.returncode == 0:
            return
        output = result.stdout + result.stderr
        if any(reason in output for reason in RACE_REASONS + TRANSIENT_REASONS):
            raise LostRace()
        raise GitSyncError(f"git push to {self.remote}/{self.branch} failed: {self.git.redact(output.strip())}")

    # ------------------------------------------------------------ reading
    @contextlib.contextmanager
    def _fetched(self) -> Iterator[tuple[str | None, str | None, str]]:
        """(ref, commit, label) of the branch tip, else of base; (None, None, label) if neither exists."""
        # A private ref per call (not FETCH_HEAD), so processes sharing a clone do not race.
        ref = f"refs/gitops/fetch/{uuid.uuid4().hex}"
        try:
            yield self._fetch_into(ref)
        finally:
            self.git.run("update-ref", "-d", ref)

    def _fetch_into(self, ref: str) -> tuple[str | None, str | None, str]:
        for name, label in ((self.branch, self._branch_label()), (self.base, f"{self.remote}/{self.base}")):
            # --refmap= : no opportunistic update of refs/remotes/* (shared by every process).
            fetch = ("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--refmap=", self.remote,
                     f"+refs/heads/{name}:{ref}")
            result = self.git.run(*fetch)
            if result.returncode == 0:
                return ref, self.git.out("rev-parse", ref), label
            found = self.git.run("ls-remote", "--exit-code", "--heads", self.remote, f"refs/heads/{name}").returncode
            if found == 0:  # another job created the branch since our fetch (parallel first writers)
                result = self.git.run(*fetch)
                if result.returncode == 0:
                    return ref, self.git.out("rev-parse", ref), label
            if found != 2:
                raise GitSyncError(f"git fetch {self.remote} {name} failed: {self.git.redact(result.stderr.strip())}")
        return None, None, f"{self.remote} (neither {self.branch} nor {self.base} exists)"

    def _branch_label(self) -> str:
        return f"{self.remote}/{self.branch}"

    def _load(self, ref: str, where: str) -> dict | None:
        result = self.git.run("cat-file", "blob", f"{ref}:{self.path}", text=False)
        if result.returncode != 0:
            return None  # the commit has no state.json yet
        return parse(result.stdout, f"{self.path} on {where}", self.branch)
