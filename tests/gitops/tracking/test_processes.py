"""Real `gitops` processes: concurrent run-task writers, and the prompt in a terminal."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.conftest import DATA

GITOPS = str(Path(sys.executable).with_name("gitops"))
pytestmark = pytest.mark.slow


def test_parallel_run_task_processes_lose_no_update(tmp_path):
    shutil.copy(DATA / "run_parallel.md", tmp_path)
    base = [GITOPS, "--tasklist", "run_parallel.md", "--state", "state.json", "run-task"]
    procs = [subprocess.Popen([*base, f"1.{i}"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(1, 7)]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, outputs
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["completed_tasks"] == [f"1.{i}" for i in range(1, 7)]
    assert [state["tasks"][f"1.{i}"]["attempts"] for i in range(1, 7)] == [1] * 6
    assert state["test_results"]["passed"] == 6


def test_run_in_a_terminal_shows_the_prompt_and_asks(tmp_path):
    shutil.copy(DATA / "run_pipeline.md", tmp_path)
    child = pexpect.spawn(
        GITOPS,
        ["--tasklist", "run_pipeline.md", "--state", "state.json", "run", "--by", "ada"],
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 200),
    )
    child.expect("Site checked. Proceed to publishing\\?")
    child.expect("Approve gate 1.2 as ada\\? \\[y/N\\]")
    child.sendline("y")
    child.expect("Approve gate phase-2 as ada\\? \\[y/N\\]")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["gates"]["1.2"]["approved_by"] == "ada"
    assert state["gates"]["phase-2"]["status"] == "pending"
