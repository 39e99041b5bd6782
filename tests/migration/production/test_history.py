"""Each step a commit on its own branch; HEAD, index and working tree untouched."""
from __future__ import annotations

import subprocess
from pathlib import Path

from gitops.run import history_commits
from gitops.run.history_commits import HistoryCommit
from migration.production.history import GitHistory, HandedHistory, for_task


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()


def declared(root: Path) -> None:
    git(root, "init", "-q", "-b", "main")
    (root / "deploy").mkdir()
    (root / "deploy" / "production.yaml").write_text("weight: 100\n")
    git(root, "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "declare")


def test_steps_are_commits_on_the_branch_and_the_checkout_is_untouched(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "production.yaml").write_text("weight: 100\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "declare")
    (tmp_path / "deploy" / "production.yaml").write_text("a person's edit\n")  # uncommitted work stays as it is
    head = git(tmp_path, "rev-parse", "HEAD")
    history = GitHistory(tmp_path)
    first = history.record("weight: 90\n", "rollout step 1/4: canary at 10%")
    assert history.record("weight: 90\n", "the same again") == first  # unchanged text: no commit
    history.record("weight: 100\n", "rollback: error_rate=0.5 past 0.02")
    assert [line.split(" ", 1)[1] for line in history.log()] == [
        "rollback: error_rate=0.5 past 0.02", "rollout step 1/4: canary at 10%", "declare"]
    assert git(tmp_path, "show", f"{first}:deploy/production.yaml") == "weight: 90"
    assert git(tmp_path, "rev-parse", "HEAD") == head
    assert (tmp_path / "deploy" / "production.yaml").read_text() == "a person's edit\n"
    assert git(tmp_path, "status", "--porcelain") == "M deploy/production.yaml"


def test_on_github_each_new_commit_is_also_handed_over_as_a_history_commit(tmp_path: Path) -> None:
    declared(tmp_path)
    workdir = tmp_path / ".gitops" / "work" / "6.1"
    history = for_task(tmp_path, workdir, {"GITHUB_ACTIONS": "true"})
    assert isinstance(history, HandedHistory)
    history.record("weight: 90\n", "rollout step 1/4: canary at 10%")
    history.record("weight: 90\n", "the same again")  # no commit here, none on the phase branch
    history.record("weight: 100\n", "rollback: error_rate=0.5 past 0.02")
    assert history_commits.recorded(workdir) == (
        HistoryCommit("deploy/production.yaml", "weight: 90\n", "rollout step 1/4: canary at 10%"),
        HistoryCommit("deploy/production.yaml", "weight: 100\n", "rollback: error_rate=0.5 past 0.02"))
    assert len(history.log()) == 3  # the local branch as well: the handler reads it back the same way


def test_locally_nothing_is_handed_over(tmp_path: Path, tmp_path_factory) -> None:
    declared(tmp_path)
    workdir = tmp_path / ".gitops" / "work" / "6.1"
    history = for_task(tmp_path, workdir, {})
    assert type(history) is GitHistory
    history.record("weight: 90\n", "rollout step 1/4: canary at 10%")
    assert history_commits.recorded(workdir) == () and len(history.log()) == 2
    assert for_task(tmp_path_factory.mktemp("no-checkout"), workdir, {"GITHUB_ACTIONS": "true"}) is None
