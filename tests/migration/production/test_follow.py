"""The follower's decision per fetched commit, and its git source on real repositories (no processes)."""
from __future__ import annotations

import subprocess
from pathlib import Path

from migration.production.follow import GitSource, step
from migration.production.follower_status import Board, FollowStatus, Outcome, ServingRelease
from migration.production.spec import SPEC_PATH, Spec
from migration.production.stack import StackError
from tests.conftest import ROOT

GOOD = (ROOT / SPEC_PATH).read_text(encoding="utf-8")
SERVING = (ServingRelease("stable", "production", "127.0.0.1:9001", 100),)


class FakeStack:
    """Records what it was asked to apply; fails with `error` when given one."""

    def __init__(self, error: Exception | None = None) -> None:
        self.applied: list[Spec] = []
        self.error = error

    def __call__(self, spec: Spec) -> tuple[ServingRelease, ...]:
        if self.error:
            raise self.error
        self.applied.append(spec)
        return SERVING


def test_a_new_commit_is_parsed_then_applied_and_reported() -> None:
    board, fake, said = Board(FollowStatus("r", "b")), FakeStack(), []
    status = step(board.status, "c1", {"c1": GOOD}.__getitem__, fake, board, said.append)
    assert (status.commit, status.outcome, status.applied, status.releases) == ("c1", Outcome.APPLIED, "c1", SERVING)
    assert [s.weights() for s in fake.applied] == [{"stable": 100, "canary": 0}]
    assert said == ["applied c1: {'stable': 100, 'canary': 0}"]


def test_the_same_commit_is_not_applied_twice() -> None:
    status = FollowStatus("r", "b", "c1", Outcome.APPLIED, "", "c1", SERVING)
    fake = FakeStack()
    assert step(status, "c1", {"c1": GOOD}.__getitem__, fake, Board(status), print) is status
    assert step(status, None, {}.__getitem__, fake, Board(status), print) is status
    assert fake.applied == []


def test_a_broken_file_is_refused_before_anything_is_applied_and_the_old_one_stays_applied() -> None:
    before = FollowStatus("r", "b", "c1", Outcome.APPLIED, "", "c1", SERVING)
    fake, said = FakeStack(), []
    status = step(before, "c2", {"c2": GOOD + "surprise: true\n"}.__getitem__, fake, Board(before), said.append)
    assert fake.applied == []
    assert (status.commit, status.outcome, status.applied, status.releases) == ("c2", Outcome.REFUSED, "c1", SERVING)
    assert status.reason == ("deploy/production.yaml:30: the file: unknown key 'surprise'; "
                             "allowed: format, releases, rollout, analysis")
    assert said == [f"refused c2: {status.reason}"]


def test_a_stack_that_does_not_converge_refuses_the_commit() -> None:
    before = FollowStatus("r", "b", "c1", Outcome.APPLIED, "", "c1", SERVING)
    fake = FakeStack(StackError("nginx -t rejected nginx.conf.next; the running proxy is unchanged"))
    status = step(before, "c2", {"c2": GOOD}.__getitem__, fake, Board(before), lambda m: None)
    assert (status.outcome, status.applied, status.reason) == (
        Outcome.REFUSED, "c1", "nginx -t rejected nginx.conf.next; the running proxy is unchanged")


def test_while_applying_the_board_says_so() -> None:
    board = Board(FollowStatus("r", "b"))
    seen: list[Outcome | None] = []
    step(board.status, "c1", {"c1": GOOD}.__getitem__,
         lambda spec: seen.append(board.status.outcome) or SERVING, board, lambda m: None)
    assert seen == [Outcome.APPLYING]


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_the_git_source_fetches_the_branch_tip_and_reads_the_file(tmp_path: Path) -> None:
    bare, work = tmp_path / "production.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    source = GitSource(str(bare), "gitops/production", tmp_path / "mirror")
    assert source.tip() is None  # the branch does not exist yet: nothing to apply
    (work / "deploy").mkdir(parents=True)
    (work / SPEC_PATH).write_text(GOOD, encoding="utf-8")
    git(work, "init", "-q")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "declared")
    git(work, "push", "-q", str(bare), "HEAD:refs/heads/gitops/production")
    assert source.tip() == git(work, "rev-parse", "HEAD")
    assert source.read(git(work, "rev-parse", "HEAD")) == GOOD
