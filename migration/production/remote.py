"""Rolling out a production elsewhere: declare by pushing commits, observe through its two URLs.

The production runs its own follower (follow.py) on the branch it follows. Each declaration is
a commit of deploy/production.yaml pushed to that branch; the handler then waits, within a
bounded time and saying so as it waits, until the production's Prometheus reports that the
follower applied that commit (or refused it: the rollout stops there, the old declaration
serving). Nothing else of that machine is reached: the proxy's URL for traffic, `/healthz` and
the releases' metrics, the Prometheus URL for the analysis and the follower's report.

Settings (the environment passed in): GITOPS_PRODUCTION_URL and GITOPS_PROMETHEUS_URL, where it
is; GITOPS_PRODUCTION_REMOTE, the git remote it follows (a remote's name or a URL; default
`origin`) and GITOPS_PRODUCTION_BRANCH, its branch (default `gitops/production`). Pushing needs a
credential for that remote: git's own (a credential helper, an SSH agent) or a deploy key in
GITOPS_PRODUCTION_DEPLOY_KEY (push_access.py); the engine hands task code no write token to its
own repository (docs/production.md, *A production elsewhere*).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops.run import history_commits
from gitops.run.deploying import PRODUCTION_URL, PROMETHEUS_URL
from migration.production.analysis import Prometheus, PrometheusError
from migration.production.follower_status import Outcome
from migration.production.history import BRANCH, GitHistory
from migration.production.spec import SPEC_PATH, Spec, dump

REMOTE = "GITOPS_PRODUCTION_REMOTE"
REMOTE_BRANCH = "GITOPS_PRODUCTION_BRANCH"
# The local branch that mirrors the followed one: apart from `gitops/production`, a rehearsal's history.
LOCAL_BRANCH = "gitops/remote-production"
# A commit that starts both releases waits for their health checks (up to 120 s each, releases.py).
CONVERGE_TIMEOUT = 300.0
PROGRESS_EVERY = 10.0


class RemoteError(RuntimeError):
    """The production elsewhere refused a declaration, did not apply it in time, or is not configured."""


@dataclass(frozen=True)
class Settings:
    production_url: str
    prometheus_url: str
    remote: str
    branch: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        production, prometheus = environ.get(PRODUCTION_URL, "").strip(), environ.get(PROMETHEUS_URL, "").strip()
        if not production or not prometheus:
            raise RemoteError(f"{PRODUCTION_URL} ({production or 'unset'}) and {PROMETHEUS_URL} "
                              f"({prometheus or 'unset'}) go together: set both to roll out to that production, "
                              "or neither to rehearse on this machine")
        return cls(production.rstrip("/"), prometheus.rstrip("/"), environ.get(REMOTE, "").strip() or "origin",
                   environ.get(REMOTE_BRANCH, "").strip() or BRANCH)


class RemoteHistory(GitHistory):
    """Commits on a local mirror of the followed branch, each pushed there (and handed over with `workdir`).

    `git_env`: what git needs to reach the remote (push_access.git_environment), added to every call.
    """

    def __init__(self, root: Path, remote: str, branch: str, workdir: Path | None = None,
                 git_env: Mapping[str, str] | None = None) -> None:
        super().__init__(root, LOCAL_BRANCH, SPEC_PATH)
        self.remote, self.remote_branch, self.workdir = remote, branch, workdir
        self.git_env = dict(git_env or {})
        self.pushed: str | None = None
        # Start from the followed branch as it is: every push must fast-forward it.
        listed = self._git("ls-remote", self.remote, f"refs/heads/{branch}")
        if listed:
            self._git("fetch", "-q", "--no-tags", self.remote, f"+refs/heads/{branch}:refs/heads/{LOCAL_BRANCH}")
            self.pushed = self.tip()
        elif self.tip():
            self._git("update-ref", "-d", f"refs/heads/{LOCAL_BRANCH}")

    def _git(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        return super()._git(*args, input=input, env={**self.git_env, **(env or {})})

    def record(self, text: str, message: str) -> str:
        made = len(self.commits)
        commit = super().record(text, message)
        if commit != self.pushed:
            # Not forced: a branch someone else moved makes the push fail rather than rewrite production.
            self._git("push", "-q", self.remote, f"{commit}:refs/heads/{self.remote_branch}")
            self.pushed = commit
        if self.workdir is not None and len(self.commits) > made:
            history_commits.record(self.workdir, self.path, text, message)
        return commit


@dataclass(frozen=True)
class Applied:
    commit: str
    instances: dict[str, str]  # release -> host:port, the `instance` its metrics carry
    weights: dict[str, int]


def applied(prometheus: Prometheus, commit: str) -> tuple[Outcome | None, str, Applied | None]:
    """What the production's follower reports of `commit` now, through its Prometheus."""
    rows = prometheus.query(f'gitops_production_commit{{commit="{commit}"}}')
    if not rows:
        return None, "", None
    labels = rows[0][0]
    outcome = Outcome(labels.get("outcome", Outcome.APPLYING.value))
    if outcome is not Outcome.APPLIED:
        return outcome, labels.get("reason", ""), None
    releases = prometheus.query("gitops_production_release_weight")
    return outcome, "", Applied(commit, {m["release"]: m["address"] for m, _ in releases},
                                {m["release"]: int(v) for m, v in releases})


@dataclass
class RemoteProduction:
    """Declares a spec by pushing it, and waits until the production elsewhere applied it."""

    settings: Settings
    history: RemoteHistory
    prometheus: Prometheus  # the production's, at settings.prometheus_url
    log: Callable[[str], None] = print
    timeout: float = CONVERGE_TIMEOUT
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    current: Applied | None = None
    declarations: list[dict[str, Any]] = field(default_factory=list)

    def urls(self) -> tuple[str, str]:
        return self.settings.production_url, self.settings.prometheus_url

    def apply(self, spec: Spec, message: str) -> None:
        commit = self.history.record(dump(spec), message)
        began = self.clock()
        self.current = self.wait(commit, message)
        self.declarations.append({"message": message, "commit": commit, "weights": spec.weights(),
                                  "converged_seconds": round(self.clock() - began, 3)})

    def wait(self, commit: str, message: str) -> Applied:
        """Until the follower reports `commit` applied; RemoteError when refused or past the timeout."""
        began, said = self.clock(), self.clock()
        outcome, reason = None, ""
        while self.clock() - began < self.timeout:
            try:
                outcome, reason, done = applied(self.prometheus, commit)
            except PrometheusError as error:
                outcome, reason, done = None, str(error), None
            if done is not None:
                return done
            if outcome is Outcome.REFUSED:
                raise RemoteError(f"production at {self.settings.production_url} refused {commit[:12]} "
                                  f"({message}); the previous declaration keeps serving: {reason}")
            if self.clock() - said >= PROGRESS_EVERY:
                said = self.clock()
                self.log(f"waiting for production at {self.settings.production_url} to apply {commit[:12]} "
                         f"({message}): {outcome.value if outcome else 'not seen yet'} after "
                         f"{self.clock() - began:.0f} s of {self.timeout:.0f}")
            self.sleep(0.25)
        raise RemoteError(f"production at {self.settings.production_url} did not apply {commit[:12]} ({message}) "
                          f"within {self.timeout:.0f} s (last report: {outcome.value if outcome else 'none'}"
                          f"{'; ' + reason if reason else ''}); is its follower running on "
                          f"{self.settings.branch} of {self.settings.remote}?")

    def instances(self) -> dict[str, str]:
        assert self.current is not None
        return dict(self.current.instances)
