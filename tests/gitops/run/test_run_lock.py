"""Two `gitops run` of one pipeline at once: the second waits for the first, then finishes the rest."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

TASKLIST = """# Two runs

## Phase 1: Work

### Task 1.1: Wait for the go file
**Dependencies**: None
**Run**: `while [ ! -f go ]; do sleep 0.05; done`

**Done when**:
- [ ] the go file appeared

### Task 1.2: Quick
**Dependencies**: Task 1.1
**Run**: `true`

**Done when**:
- [ ] ran
"""


def gitops(folder: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "GITOPS_TRACKING": "off", "GITOPS_APPROVER": "ada"}
    command = [str(Path(sys.executable).with_name("gitops")), "--tasklist", "two.md", "--state", "state.json", "run"]
    return subprocess.Popen(command, cwd=folder, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def running(folder: Path) -> bool:
    try:
        return json.loads((folder / "state.json").read_text())["tasks"]["1.1"]["status"] == "running"
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return False


@pytest.mark.slow
def test_a_second_run_waits_for_the_first_and_says_so(tmp_path):
    (tmp_path / "two.md").write_text(TASKLIST)
    first = gitops(tmp_path, tmp_path / "first.log")
    second = None
    try:
        wait_for(lambda: running(tmp_path), "Task 1.1 to start")
        second = gitops(tmp_path, tmp_path / "second.log")
        wait_for(lambda: "waiting for it to finish" in (tmp_path / "second.log").read_text(), "the second run to wait")
        (tmp_path / "go").touch()
        assert (first.wait(timeout=60), second.wait(timeout=60)) == (0, 0)
    finally:
        (tmp_path / "go").touch()  # never leave a run waiting for it
        for proc in filter(None, (first, second)):
            if proc.poll() is None:
                proc.kill()
    said = (tmp_path / "second.log").read_text()
    assert f"Another `gitops run` (pid {first.pid} on " in said
    assert f"is running this pipeline ({tmp_path / 'state.json'}); waiting for it to finish. Ctrl-C to stop waiting." in said
    assert "Next: All 2 tasks are done." in said
    state = json.loads((tmp_path / "state.json").read_text())
    assert [state["tasks"][t]["attempts"] for t in ("1.1", "1.2")] == [1, 1]  # nothing ran twice
    assert not (tmp_path / "state.json.run.owner").exists()
