"""Tasks 5.1 and 5.2 run for real (MLflow, the server, a DSPy program on DummyLM), each once;
the tests read what their checks found."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gitops.handlers import Registry, TaskContext, match_checks
from gitops.run.execute import run_handler
from gitops.tasklist import parser
from gitops.tracking import processes
from gitops.tracking import server as tracking_server
from migration.handlers import HANDLERS
from migration.tasks import t5_1_mlflow_setup as mlflow_setup
from migration.tracking import mlflow_lab as lab
from tests.conftest import ROOT

TASKLIST, _ = parser.load(ROOT / "migration" / "B-1006.md")


def context(task_id: str, workdir: Path, root: Path = ROOT) -> TaskContext:
    workdir.mkdir(parents=True, exist_ok=True)
    # The real environment: Task 5.1 runs DSPy 3.0.1 in Task 1.1's candidate environment (uv).
    return TaskContext(TASKLIST.tasks[task_id], root, workdir, 1, dict(os.environ), {}, lambda message: None)


def outcome(task_id: str, workdir: Path) -> dict[str, dict]:
    """Run the registered handler as the runner does; the checks by criterion."""
    result = run_handler(Registry(HANDLERS).resolve(task_id), context(task_id, workdir))
    assert result.error is None
    return {c["criterion"]: c for c in result.checks}


@pytest.fixture(scope="module")
def workdir_5_1(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("work") / "5.1"


@pytest.fixture(scope="module")
def task_5_1(workdir_5_1):
    return outcome("5.1", workdir_5_1)


@pytest.fixture(scope="module")
def task_5_2(tmp_path_factory):
    return outcome("5.2", tmp_path_factory.mktemp("work") / "5.2")


@pytest.mark.parametrize("task_id", ["5.1", "5.2"])
def test_every_criterion_has_a_check(task_id):
    paired, unmatched = match_checks(Registry(HANDLERS).resolve(task_id), TASKLIST.tasks[task_id])
    assert unmatched == [] and None not in paired


@pytest.mark.slow
def test_5_1_starts_the_real_server_with_auth_and_stops_it(task_5_1):
    check = task_5_1["MLflow server configured and running"]
    assert check["status"] == "passed", check["evidence"]
    assert "an anonymous request got 401" in check["evidence"] and "stopped cleanly: True" in check["evidence"]
    assert check["metrics"]["anonymous_status"] == 401 and check["metrics"]["start_seconds"] > 0


@pytest.mark.slow
def test_5_1_tracks_over_http_and_registers_two_model_versions(task_5_1):
    tracking = task_5_1["Basic experiment tracking functional"]
    assert tracking["status"] == "passed", tracking["evidence"]
    assert "param task='5.1', metric answer=42.0" in tracking["evidence"]
    versions = task_5_1["Model versioning capabilities verified"]
    assert versions["status"] == "passed", versions["evidence"]
    assert "versions 1, 2 logged by this attempt" in versions["evidence"] and "answered '4'" in versions["evidence"]


@pytest.mark.slow
def test_5_1_autolog_traces_every_call_under_dspy_3(task_5_1, workdir_5_1):
    check = task_5_1["DSPy 3.0 MLflow integration configured"]
    assert check["status"] == "passed", check["evidence"]
    assert "in the candidate environment (mlflow 3.13.0, dspy 3.0.1): 4 traces of 4 program calls" in check["evidence"]
    assert "Predict.forward (LLM)" in check["evidence"]
    # The traces went to the task's own store, where the engine reads them back.
    record = json.loads((workdir_5_1 / "evidence.json").read_text())
    traces = lab.traces_of(lab.store_uri(workdir_5_1), record["experiment_id"], record["integration"]["run_id"])
    assert len(traces) == 4


def test_5_1_integration_fails_on_a_dspy_2_candidate(tmp_path):
    record = {"integration": {"run_id": "r", "answers": [], "traces": ["t"] * 4, "spans": ["Predict.forward (LLM)"],
                              "versions": {"dspy": "2.6.27", "mlflow": "3.13.0"}}}
    lab.save_json(lab.evidence_path(tmp_path), record)
    check = mlflow_setup.check_integration(context("5.1", tmp_path))
    assert check.status.value == "failed"
    assert check.evidence.endswith("But the candidate environment has dspy 2.6.27, not 3.x: run Task 1.1 again.")


@pytest.mark.slow
def test_5_1_leaves_no_server_running(task_5_1, workdir_5_1):
    server = json.loads((workdir_5_1 / "evidence.json").read_text())["server"]
    assert not processes.alive(server["pid"]) and not tracking_server.healthy(server["url"])
    assert tracking_server.running(workdir_5_1 / "server") is None


def test_5_1_documentation_is_this_repositorys_page(tmp_path):
    check = mlflow_setup.check_docs(context("5.1", tmp_path))
    assert check.status.value == "passed", check.evidence
    assert check.evidence.startswith("docs/mlflow.md: ") and check.metrics["topics"] == len(mlflow_setup.DOC_TOPICS)


def test_5_1_documentation_names_the_topics_it_misses(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "mlflow.md").write_text("# MLflow\n\n## Start the server\n\nSome text.\n")
    check = mlflow_setup.check_docs(context("5.1", tmp_path / "work", tmp_path))
    assert check.status.value == "failed"
    assert check.evidence == (
        "docs/mlflow.md: 8 words, 2 headings; the server (start, stop): 'Start the server'. No heading covers: "
        "access control, the DSPy integration, experiment tracking, model versioning, experiment comparison, "
        "visualization, troubleshooting"
    )


@pytest.mark.slow
def test_5_2_passes_every_criterion_with_evidence_read_back_from_mlflow(task_5_2):
    assert {c: r["status"] for c, r in task_5_2.items()} == dict.fromkeys(task_5_2, "passed"), task_5_2
    operations = task_5_2["All DSPy operations tracked in MLflow"]
    assert "'dummy-lm-strong': 5, 'dummy-lm-weak': 5} traces per run" in operations["evidence"]
    assert "with artifacts ['best_model.json', 'trainset.json']" in operations["evidence"]
    assert task_5_2["Model performance metrics tracked"]["metrics"] == {
        "eval_dummy_lm_strong": 100.0,
        "eval_dummy_lm_weak": 50.0,
    }
    table = task_5_2["Experiment comparison capabilities functional"]["evidence"]
    assert "| 1 | dummy-lm-strong |" in table and "| 2 | dummy-lm-weak |" in table
    plot = task_5_2["Experiment visualization working"]
    assert plot["metrics"]["width"] == 500 and plot["metrics"]["height"] == 300
    assert (
        "comparison.png (500x300 px" in plot["evidence"]
        and "mlflow ui --backend-store-uri sqlite:///" in plot["evidence"]
    )


@pytest.mark.slow
def test_the_handlers_leave_mlflows_process_state_as_they_found_it(task_5_1, task_5_2):
    import os

    import mlflow

    assert not {"MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_ACTIVE_MODEL_ID"} & set(os.environ)
    assert mlflow.get_active_model_id() is None
    assert not mlflow.get_tracking_uri().endswith(("5.1/mlflow.db", "5.2/mlflow.db"))
