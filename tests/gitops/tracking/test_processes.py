"""Real `gitops` processes: concurrent run-task writers, and the prompt in a terminal."""
from __future__ import annotations

import json
import os
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


def test_parallel_run_task_processes_on_a_fresh_mlflow_store_are_all_tracked(tmp_path):
    # Issue 12 item 8: the first runs against a new SQLite store all create its schema at once.
    tasks = "".join(
        f"### Task 1.{i}: Check {i}\n**Dependencies**: None\n**Run**: `echo {i}`\n\n"
        f"**Done when**:\n- [ ] {i} checked\n\n"
        for i in range(1, 9)
    )
    (tmp_path / "eight.md").write_text(f"# Process Task List: Eight checks\n\n## Phase 1: Checks\n\n{tasks}")
    env = {**os.environ, "GITOPS_TRACKING": "on"}
    env.pop("MLFLOW_TRACKING_URI", None)
    base = [GITOPS, "--tasklist", "eight.md", "--state", "state.json", "run-task"]
    procs = [subprocess.Popen([*base, f"1.{i}"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for i in range(1, 9)]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, outputs
    assert not [out for out in outputs if "not tracked" in out], outputs
    records = json.loads((tmp_path / "state.json").read_text())["tasks"]
    run_ids = [records[f"1.{i}"].get("mlflow_run_id") for i in range(1, 9)]
    assert all(run_ids), (run_ids, outputs)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / '.gitops' / 'mlflow.db'}")
    tracked = sorted(client.get_run(run_id).data.tags["gitops.task"] for run_id in run_ids)
    assert tracked == [f"1.{i}" for i in range(1, 9)]
