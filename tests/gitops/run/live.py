"""Real `gitops` processes for the lifecycle tests: start, finish, poll state.json and pid files."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gitops.tracking.processes import alive

GITOPS = str(Path(sys.executable).with_name("gitops"))


def tasklist(run: str) -> str:
    return f"""# Lifecycle

## Phase 1: Work

### Task 1.1: Work
**Dependencies**: None
**Run**: `{run}`

**Done when**:
- [ ] it ran
"""


def gitops(folder: Path, *args: str, log: str = "gitops.log") -> subprocess.Popen:
    env = {**os.environ, "GITOPS_TRACKING": "off", "GITOPS_APPROVER": "ada"}
    command = [GITOPS, "--tasklist", "t.md", "--state", "state.json", *args]
    # SIGINT as a terminal gives it: a test run started in the background (`cmd &`, nohup) ignores
    # SIGINT, its children inherit that, and Python then never raises KeyboardInterrupt.
    return subprocess.Popen(command, cwd=folder, env=env, stdout=(folder / log).open("w"), stderr=subprocess.STDOUT,
                            preexec_fn=_default_sigint)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finish(folder: Path, *args: str) -> tuple[int, str]:
    proc = gitops(folder, *args, log="finish.log")
    try:
        code = proc.wait(timeout=60)
    finally:
        end(proc)
    return code, (folder / "finish.log").read_text()


def end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def task(folder: Path) -> dict:
    return json.loads((folder / "state.json").read_text())["tasks"]["1.1"]


def state(folder: Path) -> dict:
    return json.loads((folder / "state.json").read_text())


def pid_in(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.endswith("\n") or text.isdigit() else None


def kill_pid_file(path: Path) -> None:
    pid = pid_in(path)
    if pid and alive(pid):
        os.kill(pid, signal.SIGKILL)
