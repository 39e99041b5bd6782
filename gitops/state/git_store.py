"""state.json on a branch of the git remote: every update is a commit, pushed without force.

`GitStateStore` is the StateStore of the GitHub Actions jobs. It never checks anything out:
the newest commit is fetched into a private ref, the new state.json is written with git
plumbing (hash-object, a temporary index, write-tree, commit-tree) and pushed by SHA. A push
that loses a race is rejected by the remote as a non-fast-forward; the store then fetches
again and re-applies the caller's change to the newer state (DESIGN §5), with exponential
backoff and jitter, so concurrent jobs never lose an update and history stays linear.

A task job's store also carries the task's work (`worktree=True`): `sync_worktree` first
merges the phase branch into the job's checkout, so a task sees what earlier tasks of its
phase changed (and main's newer commits, such as a HotFix); then every state commit also
holds the files the task changed in the checkout (`git status`, .gitignore respected), so the
phase PR shows the work beside the state. Two jobs that change one file differently do not
overwrite each other: the second fails with a conflict naming the file.
"""
from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import random
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence

from gitops.errors import GitopsError, StateError, WorkNotPushed
from gitops.state import file as state_io
from gitops.state.schema import find_problem

# `git push --porcelain` reasons that mean "someone else moved the branch first".
RACE_REASONS = ("non-fast-forward", "fetch first", "stale info", "cannot lock ref",
                "failed to update ref", "incorrect old value")
# GitHub refuses a push now and then with this and accepts the same push a moment later: retried
# like a lost race (fetch, re-apply, push again).
TRANSIENT_REASONS = ("fatal error in commit_refs",)


# Git runs here with the token in its environment (github_auth_env), in a checkout that task code
# has just written to: hooks (.git/hooks, core.hooksPath) and an fsmonitor command set in .git/config
# would run task code with the token. None of them runs for the store's commands:
# https://git-scm.com/docs/githooks, https://git-scm.com/docs/git-config#Documentation/git-config.txt-corefsmonitor
NO_CHECKOUT_CODE = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "credential.helper=")


class GitSyncError(GitopsError):
    """A git command failed for a reason other than a lost race (network, permissions)."""


class WorkConflict(GitSyncError, WorkNotPushed):
    """A file this job changed was changed differently on the phase branch since the job began."""


class LostRace(Exception):
    """The remote branch moved between our fetch and our push."""


class Version(Protocol):
    """One version of a work file to commit on its own (gitops.run.history_commits.HistoryCommit)."""

    @property
    def path(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def message(self) -> str: ...


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


def phase_branch(project_slug: str, phase: int) -> str:
    """The branch that holds a phase's state commits and becomes its PR: `gitops/b-1006/phase-1`."""
    return f"gitops/{project_slug}/phase-{phase}"


def phase_store(repo_dir: Path, project_slug: str, phases: Sequence[int], *, remote: str = "origin",
                base: str = "main", **options: Any) -> "GitStateStore":
    """The store of the phase in progress, as base's state.json says (merging a phase PR moves it on)."""
    state = GitStateStore(repo_dir, remote, base, base=base, **options).read()
    phase = state.get("current_phase") if state else None
    if phase is None:  # nothing recorded yet: the first phase; every task final: the last one
        phase = phases[-1] if state else phases[0]
    return GitStateStore(repo_dir, remote, phase_branch(project_slug, phase), base=base, **options)


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
        self.worktree = worktree  # each state commit also carries the checkout's changed files
        # What this store pushed of the task's work, path -> blob (None: deleted): a later change
        # or deletion of such a file must follow, and is compared with it, not with the checkout.
        self._carried: dict[str, str | None] = {}
        self._pending: dict[str, str | None] = {}
        # A recording job's store carries work handed over by a task job (`carry`), not its checkout's.
        self._handed: dict[str, tuple[str, bytes] | None] = {}
        self._handed_base: dict[str, str | None] = {}
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
                self.worktree = False  # from now on this store records the state alone (Runner.execute)
                self._handed, self._history = {}, ()  # nothing of the task's work is pushed
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
            if loaded and state_io.dumps(new) == state_io.dumps(current):
                return new  # nothing changed: no empty commit, no new branch
            # The history goes first, the state commit on top; one push carries them all, so a lost
            # race rebuilds the whole chain on the new tip and nothing is pushed twice.
            parent = self._history_commits(tip)
            commit = self._commit(parent, state_io.dumps(new), describe(current, new, self.branch), checked_against=tip)
            self._push(commit)
            self._carried.update(self._pending)
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
        blob = self._git("hash-object", "-w", "--stdin", input=text)
        with tempfile.TemporaryDirectory(prefix="gitops-index-") as temp:
            env = {"GIT_INDEX_FILE": str(Path(temp) / "index")}
            if parent:
                self._git("read-tree", parent, env=env)
            self._git("update-index", "--add", "--cacheinfo", f"100644,{blob},{self.path}", env=env)
            work = self._work(parent, tip) if self.worktree else self._handed_work(parent, tip) if self._handed else {}
            self._pending = {path: entry[1] if entry else None for path, entry in work.items()}
            for path, entry in work.items():
                if entry is None:
                    self._git("update-index", "--force-remove", "--", path, env=env)
                else:
                    self._git("update-index", "--add", "--cacheinfo", f"{entry[0]},{entry[1]},{path}", env=env)
            tree = self._git("write-tree", env=env)
        parents = ["-p", parent] if parent else []
        return self._git("commit-tree", tree, *parents, "-m", message, env=self._identity())

    def _identity(self) -> dict[str, str]:
        name, email = self.author
        return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}

    def _push(self, commit: str) -> None:
        # Never --force: the remote accepts only a fast-forward of the tip it has now, so a
        # writer that raced with another one is rejected here instead of overwriting it.
        result = self._run("push", "--porcelain", "--no-verify", self.remote, f"{commit}:refs/heads/{self.branch}")
        if result.returncode == 0:
            return
        output = result.stdout + result.stderr
        if any(reason in output for reason in RACE_REASONS + TRANSIENT_REASONS):
            raise LostRace()
        raise GitSyncError(f"git push to {self.remote}/{self.branch} failed: {self._redact(output.strip())}")

    # ------------------------------------------------------------ the task's work
    def sync_worktree(self) -> str:
        """Merge the phase branch into the job's checkout (a local merge, never pushed); say what happened."""
        with self._fetched() as (ref, tip, where):
            if ref is None or where != self._branch_label():
                return f"{self.remote}/{self.branch} does not exist yet: the task runs on the checkout as it is"
            if self._run("merge-base", "--is-ancestor", tip, "HEAD").returncode == 0:
                return f"the checkout already holds {where} ({tip[:12]})"
            self._unshallow()
            merged = self._run("merge", "--no-edit", "--no-ff", "-m", f"gitops: the work of {where}", tip,
                               env=self._identity())
            if merged.returncode != 0:
                conflicts = self._run("diff", "--name-only", "--diff-filter=U").stdout.split()
                self._run("merge", "--abort")
                self.worktree = False  # the task will not run: its state is recorded alone
                raise WorkConflict(
                    f"{where} ({tip[:12]}) does not merge into this checkout"
                    + (f": both changed {', '.join(conflicts)}" if conflicts else f": {self._redact(merged.stderr.strip())}")
                    + f". Merge {self.base} into {self.branch}, resolve the conflicts, push, and run the job again."
                )
            return f"merged {where} ({tip[:12]}) into the checkout: the task sees its phase's earlier work"

    def _unshallow(self) -> None:
        """A merge needs history: fetch it if the checkout is shallow (actions/checkout's default depth 1)."""
        if self._git("rev-parse", "--is-shallow-repository") != "true":
            return
        fetched = self._run("fetch", "--quiet", "--unshallow", "--no-tags", self.remote)
        if fetched.returncode != 0:
            raise GitSyncError(f"the checkout is shallow and its history could not be fetched "
                               f"({self._redact(fetched.stderr.strip())}): check out with fetch-depth: 0 "
                               "(`gitops render` writes that into the task jobs)")

    def _work(self, parent: str | None, tip: str | None) -> dict[str, tuple[str, str] | None]:
        """The checkout's changed files as index entries ((mode, blob), None: deleted), checked against `tip`."""
        listing = self._run("status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames")
        if listing.returncode != 0:
            raise GitSyncError(f"git status failed in {self.repo_dir}: {listing.stderr.strip()}")
        # A path ending in "/" is a folder git will not list into (a nested repository): skipped.
        changed = {item[3:] for item in filter(None, listing.stdout.split("\0")) if not item.endswith("/")}
        paths = [path for path in sorted(changed | set(self._carried)) if self._is_work(path)]
        began = {path: self._carried[path] if path in self._carried else self._blob("HEAD", path) for path in paths}
        return self._checked(parent, tip, {path: self._entry(path) for path in paths}, began)

    def _is_work(self, path: str) -> bool:
        # The state is written by the store; engine work files are not the task's work.
        return path != self.path and not path.startswith(".gitops/")

    def _checked(self, parent: str | None, tip: str | None, work: Mapping[str, tuple[str, str] | None],
                 began: Mapping[str, str | None]) -> dict[str, tuple[str, str] | None]:
        """The entries of `work` that `parent` does not hold yet; WorkConflict when the branch (`tip`,
        before this job's history commits on it) changed one since `began`."""
        entries: dict[str, tuple[str, str] | None] = {}
        conflicts = []
        for path, entry in work.items():
            ours, now = (entry[1] if entry else None), self._blob(tip, path)
            if self._blob(parent, path) == ours:
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

    def work_files(self) -> dict[str, tuple[tuple[str, bytes] | None, str | None]]:
        """The task's work in the checkout, to hand over: path -> ((mode, content) or None: deleted, the blob
        the task began from). Nothing is written to the object store; the recording job commits it (`carry`)."""
        listing = self._run("status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames")
        if listing.returncode != 0:
            raise GitSyncError(f"git status failed in {self.repo_dir}: {listing.stderr.strip()}")
        changed = {item[3:] for item in filter(None, listing.stdout.split("\0")) if not item.endswith("/")}
        files: dict[str, tuple[tuple[str, bytes] | None, str | None]] = {}
        for path in sorted(p for p in changed if self._is_work(p)):
            file = self.repo_dir / path
            if file.is_symlink():
                content: tuple[str, bytes] | None = ("120000", os.fsencode(os.readlink(file)))
            elif file.is_file():
                content = ("100755" if os.access(file, os.X_OK) else "100644", file.read_bytes())
            else:
                content = None
            files[path] = (content, self._blob("HEAD", path))
        return files

    def carry(self, files: Mapping[str, tuple[tuple[str, bytes] | None, str | None]]) -> None:
        """Commit `files` (as `work_files` gives them, handed over by a task job) with the next state
        commit, checked for conflicts like a task job's own work; the checkout is never written."""
        self._handed = {path: content for path, (content, _) in files.items()}
        self._handed_base = {path: base for path, (_, base) in files.items()}

    def _handed_work(self, parent: str | None, tip: str | None) -> dict[str, tuple[str, str] | None]:
        entries = {path: None if content is None else (content[0], self._hash(content[1]))
                   for path, content in self._handed.items() if self._is_work(path)}
        began = {path: self._carried.get(path, self._handed_base[path]) for path in entries}
        return self._checked(parent, tip, entries, began)

    def carry_history(self, commits: Sequence[Version]) -> None:
        """Commit each version in `commits` (handed over by a task job, validated) as a commit of its own,
        with its message, in order, before the next state commit; an unchanged version makes no commit."""
        self._history = tuple(commits)

    def _history_commits(self, parent: str) -> str:
        """The chain of history commits on `parent`; its tip (`parent` when there is none)."""
        for version in self._history:
            blob = self._hash(version.content.encode("utf-8"))
            with tempfile.TemporaryDirectory(prefix="gitops-index-") as temp:
                env = {"GIT_INDEX_FILE": str(Path(temp) / "index")}
                self._git("read-tree", parent, env=env)
                entry = f"{self._mode(parent, version.path)},{blob},{version.path}"
                self._git("update-index", "--add", "--cacheinfo", entry, env=env)
                tree = self._git("write-tree", env=env)
            if tree != self._git("rev-parse", f"{parent}^{{tree}}"):
                parent = self._git("commit-tree", tree, "-p", parent, "-m", version.message, env=self._identity())
        return parent

    def _mode(self, commit: str, path: str) -> str:
        """The file's mode in `commit` (an executable stays one), 100644 for a new file."""
        listed = self._run("ls-tree", commit, "--", path).stdout.split()
        return listed[0] if listed and listed[0] in ("100644", "100755") else "100644"

    def _hash(self, content: bytes) -> str:
        result = self._run("hash-object", "-w", "--stdin", input=content, text=False)
        if result.returncode != 0:
            raise GitSyncError(f"git hash-object failed in {self.repo_dir}: {result.stderr.decode(errors='replace').strip()}")
        return result.stdout.decode().strip()

    def _entry(self, path: str) -> tuple[str, str] | None:
        """The index entry of the checkout's `path`, (mode, blob); None when the file is gone."""
        file = self.repo_dir / path
        if file.is_symlink():
            return "120000", self._git("hash-object", "-w", "--stdin", input=os.readlink(file))
        if not file.exists():
            return None
        return ("100755" if os.access(file, os.X_OK) else "100644"), self._git("hash-object", "-w", "--", path)

    def _blob(self, commit: str | None, path: str) -> str | None:
        if commit is None:
            return None
        found = self._run("rev-parse", "--verify", "--quiet", f"{commit}:{path}")
        return found.stdout.strip() if found.returncode == 0 else None

    # ------------------------------------------------------------ reading
    @contextlib.contextmanager
    def _fetched(self) -> Iterator[tuple[str | None, str | None, str]]:
        """(ref, commit, label) of the branch tip, else of base; (None, None, label) if neither exists."""
        # A private ref per call (not FETCH_HEAD), so processes sharing a clone do not race.
        ref = f"refs/gitops/fetch/{uuid.uuid4().hex}"
        try:
            yield self._fetch_into(ref)
        finally:
            self._run("update-ref", "-d", ref)

    def _fetch_into(self, ref: str) -> tuple[str | None, str | None, str]:
        for name, label in ((self.branch, self._branch_label()), (self.base, f"{self.remote}/{self.base}")):
            # --refmap= : no opportunistic update of refs/remotes/* (shared by every process).
            fetch = ("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--refmap=", self.remote,
                     f"+refs/heads/{name}:{ref}")
            result = self._run(*fetch)
            if result.returncode == 0:
                return ref, self._git("rev-parse", ref), label
            found = self._run("ls-remote", "--exit-code", "--heads", self.remote, f"refs/heads/{name}").returncode
            if found == 0:  # another job created the branch since our fetch (parallel first writers)
                result = self._run(*fetch)
                if result.returncode == 0:
                    return ref, self._git("rev-parse", ref), label
            if found != 2:
                raise GitSyncError(f"git fetch {self.remote} {name} failed: {self._redact(result.stderr.strip())}")
        return None, None, f"{self.remote} (neither {self.branch} nor {self.base} exists)"

    def _branch_label(self) -> str:
        return f"{self.remote}/{self.branch}"

    def _load(self, ref: str, where: str) -> dict | None:
        result = self._run("cat-file", "blob", f"{ref}:{self.path}", text=False)
        if result.returncode != 0:
            return None  # the commit has no state.json yet
        return parse(result.stdout, f"{self.path} on {where}", self.branch)

    # ------------------------------------------------------------ git
    def _run(self, *args: str, input: str | bytes | None = None, env: Mapping[str, str] | None = None, text: bool = True) -> subprocess.CompletedProcess:
        full_env = {**self.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        return subprocess.run(
            ["git", "-c", "gc.auto=0", "-c", "maintenance.auto=false", *NO_CHECKOUT_CODE, *args],
            cwd=self.repo_dir, env=full_env, input=input, capture_output=True, text=text, check=False,
        )

    def _git(self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None) -> str:
        result = self._run(*args, input=input, env=env)
        if result.returncode != 0:
            raise GitSyncError(f"git {args[0]} failed in {self.repo_dir}: {self._redact(result.stderr.strip())}")
        return result.stdout.strip()

    def _redact(self, text: str) -> str:
        """Git output with every credential this store was given replaced by ***."""
        for key, value in self.environ.items():
            if value and len(value) >= 8 and (key.startswith("GIT_CONFIG_VALUE_") or "TOKEN" in key):
                text = text.replace(value, "***")
                text = text.replace(value.rsplit(" ", 1)[-1], "***")
        return text


def parse(raw: bytes, where: str, branch: str) -> dict:
    """A state.json blob from git, validated; StateError names the branch and the file."""
    hint = (f"Push a commit to {branch} that restores a valid file (`git log -p FETCH_HEAD` after "
            f"`git fetch origin {branch}` shows its history); gitops never overwrites it.")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise StateError(f"{where}: not valid JSON ({exc}). {hint}") from None
    problem = find_problem(data)
    if problem:
        raise StateError(f"{where}: {problem.describe()}. {hint}")
    return data


def describe(old: Mapping, new: Mapping, branch: str) -> str:
    """A commit message naming what changed: task and gate statuses, halts and pauses."""
    changes = []
    for kind, key in (("Task", "tasks"), ("gate", "gates")):
        before, after = old.get(key, {}), new.get(key, {})
        for name in after:
            was = before.get(name, {}).get("status")
            if was != after[name].get("status"):
                changes.append(f"{kind} {name} {was or 'new'} -> {after[name].get('status')}")
    for key in ("halted", "paused_by"):
        if old.get(key) != new.get(key):
            changes.append(f"{key} {'cleared' if not new.get(key) else 'set'}")
    subject = "; ".join(changes[:4]) + (f" (+{len(changes) - 4} more)" if len(changes) > 4 else "")
    return f"gitops: {subject or 'update state'}\n\nState of {new.get('project', '?')} on {branch}.\n"
