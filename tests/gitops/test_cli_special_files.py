"""Special files and links where gitops reads or writes (issue 12 item 9): each is a clear error
(exit 2) or a refused task, never a traceback, a hang, or a write outside the project."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitops.cli import main
from tests.gitops.test_cli import Gitops

GITOPS = str(Path(sys.executable).with_name("gitops"))


@pytest.fixture
def checks(tmp_path, monkeypatch) -> Gitops:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITOPS_APPROVER", "ada")
    return Gitops(tmp_path, "run_parallel.md")


@pytest.fixture
def outside(tmp_path_factory) -> Path:
    """A folder outside the project, standing for /etc."""
    return tmp_path_factory.mktemp("outside")


def test_a_lock_that_is_a_link_is_refused(checks, outside):
    lock = checks.folder / "state.json.lock"
    lock.symlink_to(outside / "lock")
    assert error(checks, "run-task", "1.1") == (
        f"error: {lock}: is a symbolic link (to {outside / 'lock'}); gitops writes the lock of "
        f"{checks.state_path} there and never through a link. Remove the link (rm {lock}; "
        f"git rm --cached {lock} if it is committed) and try again.\n"
    )
    assert not (outside / "lock").exists()


def test_a_lock_that_is_a_folder_is_refused(checks):
    lock = checks.folder / "state.json.lock"
    lock.mkdir()
    assert error(checks, "run-task", "1.1") == (
        f"error: {lock}: is a directory; gitops writes the lock of {checks.state_path} there as a regular file. "
        f"Remove it (rm -r {lock}) and try again.\n"
    )


def test_a_run_lock_that_is_a_folder_is_refused(checks):
    lock = checks.folder / "state.json.run.lock"
    lock.mkdir()
    assert error(checks, "run") == (
        f"error: {lock}: is a directory; gitops writes the lock of {checks.state_path} there as a regular file. "
        f"Remove it (rm -r {lock}) and try again.\n"
    )


def test_a_state_link_out_of_the_project_is_refused_even_dangling(checks, outside):
    checks.state_path.symlink_to(outside / "state.json")
    assert error(checks, "run-task", "1.1") == (
        f"error: {checks.state_path}: is a symbolic link to {outside / 'state.json'}, outside the project "
        f"({checks.folder}); gitops writes the state and its .gitops/ folder where the state is. Replace the link "
        f"with the file itself (or remove it to start afresh), or pass --state {outside / 'state.json'} to use "
        "that file on purpose.\n"
    )
    assert list(outside.iterdir()) == []


def test_a_state_link_inside_the_project_is_followed(checks):
    (checks.folder / "kept").mkdir()
    checks.state_path.symlink_to(checks.folder / "kept" / "state.json")
    checks("run-task", "1.1")
    assert json.loads((checks.folder / "kept" / "state.json").read_text())["tasks"]["1.1"]["status"] == "done"


def test_a_state_outside_the_checkout_with_the_github_forge_is_refused(checks, outside, monkeypatch):
    subprocess.run(["git", "init", "-q"], cwd=checks.folder, check=True)
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/site")
    state = outside / "state.json"
    result = CliRunner().invoke(main, ["--tasklist", str(checks.tasklist), "--state", str(state),
                                       "--forge", "github", "run-task", "1.1"])
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    assert result.stderr == (
        f"error: --state {state} is outside the checkout ({checks.folder}): with --forge github the state is "
        "committed to the repository. Pass a path inside the checkout (default: state.json), or use --forge local.\n"
    )


def test_a_link_committed_at_a_log_path_fails_the_task_without_writing_through_it(checks, outside):
    victim = outside / "passwd"
    victim.write_text("root:x:0:0\n")
    log = checks.folder / ".gitops" / "logs" / "task-1.1-attempt-1.log"
    log.parent.mkdir(parents=True)
    log.symlink_to(victim)
    refused = (f"{log}: is a symbolic link (to {victim}); gitops writes the task's log there and never through "
               f"a link. Remove the link (rm {log}; git rm --cached {log} if it is committed) and try again.")
    out = checks("run-task", "1.1", code=1)
    assert refused in out
    assert victim.read_text() == "root:x:0:0\n"
    record = checks.state()["tasks"]["1.1"]
    assert (record["status"], record["error"]) == ("failed", refused)
    assert record["checks"][0]["evidence"] == f"not run: {refused}"
    log.unlink()  # the fix the message names; the task then runs
    checks("retry", "1.1")
    assert log.with_name("task-1.1-attempt-2.log").read_text().startswith("$ sleep 0.2 && echo one\n# exit status 0\n")


def test_a_linked_logs_folder_is_refused(checks, outside):
    logs = checks.folder / ".gitops" / "logs"
    logs.parent.mkdir()
    logs.symlink_to(outside, target_is_directory=True)
    out = checks("run-task", "1.1", code=1)
    assert (f"{logs}: is a symbolic link (to {outside}); gitops writes the task's log inside it and never "
            f"through a link. Remove the link (rm {logs}; git rm --cached {logs} if it is committed) and try "
            "again.") in out
    assert list(outside.iterdir()) == []


def error(checks: Gitops, *args: str) -> str:
    """What `gitops` says on stderr; it must exit 2."""
    result = CliRunner().invoke(main, ["--tasklist", str(checks.tasklist), "--state", str(checks.state_path), *args])
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    return result.stderr


def special_files(folder: Path) -> dict[str, str]:
    fifo = folder / "pipe"
    os.mkfifo(fifo)
    return {"/dev/zero": "is a character device", str(fifo): "is a FIFO (named pipe)"}


def gitops(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # A real process with a timeout: the bug these catch is a read that never returns.
    return subprocess.run([GITOPS, *args], cwd=folder, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "GITOPS_TRACKING": "off"})


@pytest.mark.slow
def test_a_fifo_or_dev_zero_as_the_task_list_is_an_error_not_a_hang(checks):
    for path, what in special_files(checks.folder).items():
        done = gitops(checks.folder, "--tasklist", path, "status")
        assert (done.returncode, done.stdout, done.stderr) == (
            2, "", f"error: {path}: {what}, not a regular file; pass the task list's Markdown file\n"
        )


@pytest.mark.slow
def test_a_fifo_or_dev_zero_as_the_state_is_an_error_not_a_hang(checks):
    for path, what in special_files(checks.folder).items():
        done = gitops(checks.folder, "--tasklist", str(checks.tasklist), "--state", path, "run")
        assert (done.returncode, done.stdout, done.stderr) == (
            2, "", f"error: {path}: {what}, not a regular file; the state must be a regular file. Pass --state "
                   "with the path of state.json (or a new path to start afresh).\n"
        )
