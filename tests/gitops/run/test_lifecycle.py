"""A task whose runner stops with real processes: kill -9 (the next command recovers the task with a
HotFix), Ctrl-C and SIGTERM (the task fails, its processes end). Waits poll files and state.json;
every process started here is ended in `finally`."""
from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from gitops.tracking.processes import alive
from tests.gitops.run.live import end, finish, gitops, kill_pid_file, pid_in, state, task, tasklist, wait_for


@pytest.mark.slow
def test_kill_9_during_a_task_is_recovered_with_a_hotfix_and_retry_works(tmp_path):
    (tmp_path / "t.md").write_text(tasklist("echo $$ > child.pid; while [ ! -f go ]; do sleep 0.05; done"))
    run = gitops(tmp_path, "run")
    try:
        wait_for(lambda: pid_in(tmp_path / "child.pid") is not None, "the task to start")
        wait_for(lambda: task(tmp_path)["status"] == "running", "state.json to say running")
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=10)

        code, said = finish(tmp_path, "status")
        assert code == 0
        host = socket.gethostname()
        assert (f"Next: Task 1.1 is marked running, but its runner is gone: pid {run.pid} on {host} is no "
                "longer running (killed or crashed while the task ran).") in said
        assert "→ gitops run" in said
        assert task(tmp_path)["status"] == "running"  # status changes nothing

        child = pid_in(tmp_path / "child.pid")
        assert alive(child)  # kill -9 ended gitops, not its command
        code, said = finish(tmp_path, "run")
        assert code == 1
        wait_for(lambda: not alive(child), "the orphaned command to be ended", timeout=5)
        record = task(tmp_path)
        assert record["status"] == "failed"
        assert record["error"] == (f"its runner is gone: pid {run.pid} on {host} is no longer running "
                                   "(killed or crashed while the task ran)")
        hotfix = state(tmp_path)["hotfixes"][0]
        assert (hotfix["id"], hotfix["status"], hotfix["error"]) == ("T-HotFix-1", "open", record["error"])
        assert Path(hotfix["issue"]).read_text()  # the HotFix issue was opened
        assert "Next: Task 1.1 failed; the pipeline is paused by T-HotFix-1" in said

        (tmp_path / "go").touch()
        code, said = finish(tmp_path, "retry", "1.1")
        assert code == 0, said
        assert task(tmp_path)["status"] == "done"
    finally:
        (tmp_path / "go").touch()  # the orphaned loop ends
        end(run)


@pytest.mark.slow
@pytest.mark.parametrize("sig, code, name", [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_sigint_and_sigterm_fail_the_task_and_end_its_processes(tmp_path, sig, code, name):
    (tmp_path / "t.md").write_text(tasklist("sleep 60 & echo $! > child.pid; wait"))
    run = gitops(tmp_path, "run")
    try:
        wait_for(lambda: pid_in(tmp_path / "child.pid") is not None, "the task to start its child")
        child = pid_in(tmp_path / "child.pid")
        run.send_signal(sig)
        assert run.wait(timeout=90) == code  # generous: a loaded 2-core CI machine, not a speed check
        wait_for(lambda: not alive(child), "the task's child to be gone", timeout=5)
        record = task(tmp_path)
        assert record["status"] == "failed"
        assert record["error"] == (f"interrupted by {name}: gitops (pid {run.pid} on {socket.gethostname()}) "
                                   "was stopped while the task ran; the task's processes were ended")
        assert state(tmp_path)["hotfixes"][0]["issue"]
        assert "interrupted" in (tmp_path / "gitops.log").read_text()
    finally:
        end(run)
        kill_pid_file(tmp_path / "child.pid")
