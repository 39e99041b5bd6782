"""A **Run** command's output and children with real processes: 200 MB of output costs gitops
bounded memory, and a background child neither holds gitops nor outlives the task."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from gitops.tracking.processes import alive
from tests.gitops.run.live import GITOPS, finish, kill_pid_file, pid_in, task, tasklist, wait_for

RSS_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # KiB: the largest of gitops and its children
sys.exit(code)
"""


@pytest.mark.slow
def test_a_command_printing_200_mb_keeps_gitops_memory_bounded(tmp_path):
    run = "yes 0123456789012345678901234567890123456789012345678 | head -c 200000000; echo last words >&2"
    (tmp_path / "t.md").write_text(tasklist(run))
    env = {**os.environ, "GITOPS_TRACKING": "off", "GITOPS_APPROVER": "ada"}
    out = subprocess.run(
        [sys.executable, "-c", RSS_WRAPPER, GITOPS, "--tasklist", "t.md", "--state", "state.json", "run"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    peak_mib = int(out.stdout.strip().splitlines()[-1]) / 1024
    assert peak_mib < 100, f"gitops peaked at {peak_mib:.0f} MiB for 200 MB of output"
    log = tmp_path / ".gitops" / "logs" / "task-1.1-attempt-1.log"
    assert log.stat().st_size > 200_000_000  # the whole output is in the log
    evidence = task(tmp_path)["checks"][0]["evidence"]
    assert evidence.endswith("\nlast words")


@pytest.mark.slow
def test_a_background_child_does_not_hold_gitops_and_is_ended(tmp_path):
    (tmp_path / "t.md").write_text(tasklist("sleep 20 & echo $! > bg.pid; echo started"))
    began = time.monotonic()
    try:
        code, said = finish(tmp_path, "run")
        seconds = time.monotonic() - began
        assert code == 0, said
        assert seconds < 10, f"gitops took {seconds:.1f} s: it waited for the background sleep"
        background = pid_in(tmp_path / "bg.pid")
        wait_for(lambda: not alive(background), "the background sleep to be ended", timeout=5)
        assert "started" in task(tmp_path)["checks"][0]["evidence"]
    finally:
        kill_pid_file(tmp_path / "bg.pid")
