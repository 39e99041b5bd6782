"""A local `gitops run` with tracking on: one parent run, a nested run per executed task, each
linked from state.json and shown by `gitops status`."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from gitops.cli import main
from tests.conftest import DATA

pytestmark = pytest.mark.slow


def test_a_local_run_leaves_a_parent_run_with_a_nested_run_per_task(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITOPS_TRACKING", "on")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    shutil.copy(DATA / "run_manual.md", tmp_path)
    args = ["--tasklist", "run_manual.md", "--state", "state.json"]
    result = CliRunner().invoke(main, [*args, "run", "--auto-approve"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    state = json.loads((tmp_path / "state.json").read_text())
    tracked = {t: r["mlflow_run_id"] for t, r in state["tasks"].items()}
    assert tracked["1.1"] and tracked["1.2"] is None  # 1.2 is manual: nothing was executed

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    run = client.get_run(tracked["1.1"])
    parent = run.data.tags["mlflow.parentRunId"]
    assert run.data.params["task_id"] == "1.1" and run.data.metrics["checks_passed"] == 1
    assert client.get_run(parent).info.status == "FINISHED"

    doc = json.loads(CliRunner().invoke(main, [*args, "status", "--json"]).output)
    task = next(t for t in doc["tasks"] if t["id"] == "1.1")
    assert task["mlflow_run_id"] == tracked["1.1"] and tracked["1.1"] in task["mlflow_run"]
