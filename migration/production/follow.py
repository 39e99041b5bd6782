"""Pull mode: production follows a git branch and applies each new commit of deploy/production.yaml.

Like Argo CD or Flux, the controller runs beside production and pulls: every `interval` it fetches
the branch; a new tip's file is parsed strictly first (spec.py), then the reconciler converges the
stack to it. A file that does not parse, or a stack that does not converge (a release failing its
health check, a configuration `nginx -t` rejects), is refused: nothing of it is applied and the
old declaration keeps serving (reconciler.py stops what it started and never loads a rejected
nginx configuration). A refused commit is not retried; the next commit is. What it saw and did is
reported (follower_status.py) on its own port, which Prometheus scrapes, so the pipeline that
pushed a commit waits for `gitops_production_commit{commit=...}` through the Prometheus URL.
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from migration.production import render
from migration.production.releases import ReleaseError
from migration.production.stack import StackError
from migration.production.tools import ToolError
from migration.production.follower_status import Board, FollowStatus, Outcome, ServingRelease
from migration.production.spec import SPEC_PATH, Spec, SpecError, parse

MIRROR = "follow.git"  # under the production's state folder: the fetched branch, nothing checked out
FOLLOWED_REF = "refs/followed/tip"
# What makes a commit refused rather than the follower stop: the file (SpecError is a ValueError, and
# so is a declaration with no traffic at all), a release that fails its health check, nginx -t, tools.
REFUSALS = (ValueError, ReleaseError, StackError, ToolError)


class FetchError(RuntimeError):
    """The branch could not be fetched; the follower tries again at the next interval."""


class GitSource:
    """The followed branch of `remote`, fetched into a bare mirror under the state folder."""

    def __init__(self, remote: str, branch: str, mirror: Path) -> None:
        self.remote, self.branch, self.mirror = remote, branch, mirror

    def _git(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "--git-dir", str(self.mirror), *args], capture_output=True, text=True)

    def tip(self) -> str | None:
        """The branch's commit now; None while the branch does not exist."""
        if not (self.mirror / "HEAD").exists():
            subprocess.run(["git", "init", "-q", "--bare", str(self.mirror)], check=True, capture_output=True)
        fetched = self._git("fetch", "-q", "--no-tags", self.remote, f"+refs/heads/{self.branch}:{FOLLOWED_REF}")
        if fetched.returncode != 0:
            if "couldn't find remote ref" in fetched.stderr:
                return None
            raise FetchError(f"git fetch {self.remote} {self.branch}: {fetched.stderr.strip()}")
        return self._git("rev-parse", FOLLOWED_REF).stdout.strip()

    def read(self, commit: str) -> str:
        shown = self._git("show", f"{commit}:{SPEC_PATH.as_posix()}")
        if shown.returncode != 0:
            raise SpecError(f"{SPEC_PATH} at {commit[:12]}: {shown.stderr.strip()}")
        return shown.stdout


def step(status: FollowStatus, commit: str | None, read: Callable[[str], str],
         apply: Callable[[Spec], tuple[ServingRelease, ...]], board: Board,
         log: Callable[[str], None]) -> FollowStatus:
    """Apply `commit` unless it was seen already; the new status (also on `board` while applying)."""
    if commit is None or commit == status.commit:
        return status
    board.status = replace(status, commit=commit, outcome=Outcome.APPLYING, reason="")
    try:
        spec = parse(read(commit), SPEC_PATH)
        serving = apply(spec)
    except REFUSALS as error:  # the old declaration keeps serving
        log(f"refused {commit[:12]}: {error}")
        return replace(status, commit=commit, outcome=Outcome.REFUSED, reason=str(error).strip())
    log(f"applied {commit[:12]}: {spec.weights()}")
    return replace(status, commit=commit, outcome=Outcome.APPLIED, reason="", applied=commit, releases=serving)


def register(folder: Path, port: int) -> None:
    """List the follower as Prometheus' `gitops-follower` target (atomically: Prometheus watches the file)."""
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{render.FOLLOWER_TARGETS}.tmp"
    temporary.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": {}}]) + "\n", encoding="utf-8")
    os.replace(temporary, folder / render.FOLLOWER_TARGETS)


def save(folder: Path, status: FollowStatus) -> None:
    temporary = folder / ".follow.json.tmp"
    temporary.write_text(json.dumps(status.as_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, folder / "follow.json")


def follow(source: GitSource, apply: Callable[[Spec], tuple[ServingRelease, ...]], board: Board, folder: Path,
           interval: float, stop: threading.Event, log: Callable[[str], None] = print) -> None:
    """Poll the branch every `interval` seconds until `stop` is set."""
    status = board.status
    while not stop.is_set():
        try:
            status = step(status, source.tip(), source.read, apply, board, log)
        except FetchError as error:
            log(f"{error}; trying again in {interval:g} s")
        board.status = status
        save(folder, status)
        stop.wait(interval)
