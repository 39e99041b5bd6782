"""The MLflow tracker against real SQLite stores: what a task run holds, the pipeline parent,
failures that never lose a result, and the cost of tracking (benchmarks)."""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitops.forge.local import LocalForge
from gitops.handlers import Check, Handler, Registry, TaskResult
from gitops.run.runner import Runner
from gitops.tracking.run_record import metric_key, package_version
from gitops.tracking.tracker import MlflowTracker, TrackingError, run_link, tracking_uri
from tests.conftest import ROOT
from tests.gitops.builders import task, tasklist

MEASURED = Handler(
    action=lambda ctx: None,
    checks={
        "criterion 1": lambda ctx: Check.passed("3 files measured in 0.25 s", files=3, seconds=0.25),
        "criterion 2": lambda ctx: Check.failed("2 of 5 tests failed", failures=2),
    },
)
PASSING = Handler(action=lambda ctx: None, checks={"criterion 1": lambda ctx: Check.passed("ok: 1 file", files=1)})


class Notes:
    """A UI that keeps the runner's notes."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def task_started(self, *args) -> None: ...

    def task_finished(self, *args) -> None: ...

    def note(self, message: str) -> None:
        self.notes.append(message)

    def confirm(self, step, approver):
        return None


def make(folder: Path, tracker: MlflowTracker, refs: dict[str, str], ui=None) -> Runner:
    tl = tasklist(task("1.1", criteria=2, title="Measure things"), task("1.2", deps=("1.1",), criteria=1))
    return Runner(
        tasklist=tl,
        state_path=folder / "state.json",
        root=folder,
        work_dir=folder / ".gitops",
        forge=LocalForge(folder / ".gitops" / "forge"),
        registry=Registry(refs),
        ui=ui or Notes(),
        environ={},
        clock=lambda: "2026-11-24T00:00:00+00:00",
        tracker=tracker,
    )


def sqlite(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the socket is


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Run 1.1 (one check passes, one fails) through a Runner with a tracker; 1.1 is then failed."""
    folder = tmp_path_factory.mktemp("pipeline")
    tracker = MlflowTracker(folder, {}, sqlite(folder))
    make(folder, tracker, {"1.1": "tests.gitops.tracking.test_tracker:MEASURED"}).run("ada")
    state = json.loads((folder / "state.json").read_text())
    tracker.close(state)
    return folder, tracker, state


def test_a_task_execution_is_a_nested_run_with_params_metrics_tags_and_the_report(pipeline):
    folder, tracker, state = pipeline
    run_id = state["tasks"]["1.1"]["mlflow_run_id"]
    client = tracker.client()
    run = client.get_run(run_id)
    assert run.info.status == "FAILED" and run.info.run_name == "Task 1.1 (attempt 1)"
    assert run.data.params == {
        "task_id": "1.1",
        "phase": "1",
        "attempt": "1",
        "priority": "High",
        "dspy_version": package_version("dspy"),
        "tasklist": "test.md",
    }
    metrics = dict(run.data.metrics)
    assert metrics.pop("duration_seconds") >= 0
    assert metrics == {
        "checks_passed": 1,
        "checks_failed": 1,
        "checks_skipped": 0,
        "checks_manual": 0,
        "check.c1_criterion_1_of_1_1.files": 3,
        "check.c1_criterion_1_of_1_1.seconds": 0.25,
        "check.c2_criterion_2_of_1_1.failures": 2,
    }
    tags = run.data.tags
    assert tags["mlflow.parentRunId"] == tracker.parent_run_id
    assert (tags["gitops.task"], tags["gitops.title"], tags["gitops.status"]) == ("1.1", "Measure things", "failed")
    assert tags["mlflow.note.content"] == "Task 1.1: Measure things: failed (1 passed, 1 failed, 0 manual, 0 skipped)"
    assert sorted(a.path for a in client.list_artifacts(run_id)) == ["checks.json", "report.md"]
    report = Path(client.download_artifacts(run_id, "report.md", str(folder))).read_text()
    assert "| 2 | criterion 2 of 1.1 | failed |" in report and "2 of 5 tests failed" in report
    checks = json.loads(Path(client.download_artifacts(run_id, "checks.json", str(folder))).read_text())
    assert checks["checks"] == state["tasks"]["1.1"]["checks"]


def test_the_pipeline_run_is_closed_with_the_pipelines_progress(pipeline):
    _, tracker, state = pipeline
    parent = tracker.client().get_run(tracker.parent_run_id)
    assert state["paused_by"] == "T-HotFix-1"
    assert parent.info.status == "FAILED" and parent.data.tags["gitops.pipeline_status"] == "stopped"
    assert parent.data.metrics == {"tasks_done": 0, "tasks_total": 2, "consecutive_failures": 1}
    experiment = tracker.client().get_experiment(tracker.experiment_id)
    assert experiment.name == state["project"] and experiment.artifact_location.endswith("/mlruns")


def test_jobs_of_one_github_run_share_one_parent_and_local_sessions_do_not(tmp_path):
    uri = sqlite(tmp_path)
    tl = tasklist(task("1.1", criteria=1))
    state = {"project": "P", "tasks": {"1.1": {"status": "done", "attempts": 1, "commit": "abc", "run_url": None}}}
    result = TaskResult([{"criterion": "criterion 1 of 1.1", "status": "passed", "evidence": "ok", "metrics": {}}])
    env = {"GITHUB_RUN_ID": "4242", "GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": "f00d"}
    jobs = [MlflowTracker(tmp_path, env, uri) for _ in range(2)]
    runs = [job.log_task(tl, "1.1", state, result, 1.0) for job in jobs]
    assert jobs[0].parent_run_id == jobs[1].parent_run_id
    parent = jobs[0].client().get_run(jobs[0].parent_run_id)
    assert parent.data.tags["gitops.run_url"] == "https://github.com/o/r/actions/runs/4242"
    assert jobs[0].client().get_run(runs[0]).data.tags["mlflow.source.git.commit"] == "abc"  # the task's own commit
    local = [MlflowTracker(tmp_path, {}, uri) for _ in range(2)]
    for tracker in local:
        tracker.log_task(tl, "1.1", state, result, 1.0)
    assert len({jobs[0].parent_run_id, local[0].parent_run_id, local[1].parent_run_id}) == 3


def test_an_unreachable_server_fails_fast_and_the_result_is_kept(tmp_path):
    port = closed_port()
    ui = Notes()
    runner = make(
        tmp_path,
        MlflowTracker(tmp_path, {}, f"http://127.0.0.1:{port}"),
        {"1.1": "tests.gitops.tracking.test_tracker:PASSING"},
        ui,
    )
    began = time.monotonic()
    runner.run("ada", only="1.1")
    assert time.monotonic() - began < 10
    state = json.loads((tmp_path / "state.json").read_text())
    record = state["tasks"]["1.1"]
    assert (
        record["checks"][0]["status"] == "passed"
        and record["status"] != "failed"
        and record.get("mlflow_run_id") is None
    )
    assert ui.notes == [
        f"warning: Task 1.1 was not tracked (MLflow at http://127.0.0.1:{port}: cannot connect: start the server "
        "(scripts/mlflow-server start) or unset MLFLOW_TRACKING_URI to use the local store); "
        f"its result is in {tmp_path / 'state.json'}"
    ]


def test_close_reports_a_failure_as_tracking_error(tmp_path):
    tracker = MlflowTracker(tmp_path, {}, f"http://127.0.0.1:{closed_port()}")
    tracker.close({})  # nothing was logged: nothing to close
    tracker.parent_run_id = "0" * 32
    with pytest.raises(TrackingError, match="the pipeline run was not closed: cannot connect"):
        tracker.close({"completed_count": 1})


def test_the_store_and_the_links():
    assert tracking_uri(Path("/repo"), {}) == "sqlite:////repo/.gitops/mlflow.db"
    assert tracking_uri(Path("/repo"), {"MLFLOW_TRACKING_URI": "http://h:5000"}) == "http://h:5000"
    assert run_link("http://u:pw@127.0.0.1:5000/", "3", "abc") == "http://127.0.0.1:5000/#/experiments/3/runs/abc"
    assert run_link("https://mlflow.example", None, "abc") == "https://mlflow.example/#/runs/abc"
    assert run_link("sqlite:////repo/mlflow.db", "1", "abc") == (
        "mlflow ui --backend-store-uri sqlite:////repo/mlflow.db  (then open http://127.0.0.1:5000/#/experiments/1/runs/abc)"
    )
    assert metric_key(2, "**All** tests pass (100%)", "p95 ms") == "check.c2_all_tests_pass_100.p95_ms"


def test_gitops_modules_do_not_import_mlflow():
    code = "import sys, gitops.tracking.tracker, gitops.tracking.server, gitops.cli; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------ benchmarks
def _one_task():
    tl = tasklist(task("1.1", criteria=3))
    state = {
        "project": "Bench",
        "tasks": {"1.1": {"status": "done", "attempts": 1, "commit": "c0ffee", "run_url": None}},
    }
    checks = [
        {"criterion": f"criterion {i} of 1.1", "status": "passed", "evidence": "measured " * 50, "metrics": {"n": i}}
        for i in (1, 2, 3)
    ]
    return tl, state, TaskResult(checks)


def test_bench_tracking_per_task_warm_sqlite(benchmark, tmp_path):
    """log_task against a store whose tables and experiment exist: the per-task cost."""
    tl, state, result = _one_task()
    tracker = MlflowTracker(tmp_path, {}, sqlite(tmp_path))
    tracker.log_task(tl, "1.1", state, result, 1.0)  # warm: tables, experiment, parent run
    run_id = benchmark(tracker.log_task, tl, "1.1", state, result, 1.0)
    assert tracker.client().get_run(run_id).info.status == "FINISHED"


def test_bench_tracking_first_run_creates_the_store(benchmark, tmp_path):
    """The first log_task of a new SQLite file: MLflow creates its tables."""
    tl, state, result = _one_task()
    rounds = itertools.count()

    def fresh():
        folder = tmp_path / str(next(rounds))
        folder.mkdir()
        return (MlflowTracker(folder, {}, sqlite(folder)),), {}

    benchmark.pedantic(lambda tracker: tracker.log_task(tl, "1.1", state, result, 1.0), setup=fresh, rounds=3)


def test_a_transient_store_error_is_tried_again_and_others_are_not():
    from gitops.tracking.tracker import retrying

    calls: list[int] = []
    pauses: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("(sqlite3.OperationalError) database is locked")
        return "run-1"

    assert retrying(flaky, delays=(0.5, 1.0, 2.0), sleep=pauses.append) == "run-1"
    assert pauses == [0.5, 1.0]

    def broken() -> str:
        calls.append(1)
        raise RuntimeError("RESOURCE_DOES_NOT_EXIST: no experiment 7")

    calls.clear()
    with pytest.raises(RuntimeError, match="no experiment 7"):
        retrying(broken, delays=(0.5, 1.0), sleep=pauses.append)
    assert len(calls) == 1

    def always_locked() -> str:
        calls.append(1)
        raise RuntimeError("database is locked")

    calls.clear()
    with pytest.raises(RuntimeError, match="database is locked"):
        retrying(always_locked, delays=(0.5, 1.0), sleep=lambda _: None)
    assert len(calls) == 3  # bounded: once per delay, then a last try


def test_the_first_client_is_made_under_a_lock_beside_the_sqlite_file(tmp_path):
    import filelock

    from gitops.tracking.tracker import store_lock

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with store_lock(uri):
        other = filelock.FileLock(f"{tmp_path / 'mlflow.db'}.lock", timeout=0)
        with pytest.raises(filelock.Timeout):
            other.acquire()
    with pytest.raises(TrackingError) as caught:
        with filelock.FileLock(f"{tmp_path / 'mlflow.db'}.lock"), store_lock(uri, timeout=0.1):
            pass
    assert str(caught.value) == (
        f"{tmp_path / 'mlflow.db'}.lock: another process has been creating the MLflow store "
        f"{tmp_path / 'mlflow.db'} for 0.1 s. Check for a stuck gitops or mlflow process, then try again."
    )
    with store_lock("http://127.0.0.1:5000"):  # a server makes its own schema: no lock file
        pass


def test_the_default_store_and_its_artifacts_live_under_dot_gitops(tmp_path):
    """A task job commits the files it changed: the engine's store must not be among them (issue 11)."""
    (tmp_path / "repo").mkdir()
    root = tmp_path / "repo"
    tracker = MlflowTracker(root, {})
    make(root, tracker, {"1.1": "tests.gitops.tracking.test_tracker:MEASURED"}).run("ada")
    tracker.close(json.loads((root / "state.json").read_text()))
    assert sorted(p.name for p in root.iterdir()) == [".gitops", "state.json", "state.json.lock"]
    assert (root / ".gitops" / "mlflow.db").is_file() and any((root / ".gitops" / "mlruns").rglob("report.md"))


def test_the_store_of_an_older_gitops_is_used_while_it_exists(tmp_path):
    (tmp_path / "mlflow.db").write_bytes(b"")
    assert tracking_uri(tmp_path, {}) == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    (tmp_path / ".gitops").mkdir()
    (tmp_path / ".gitops" / "mlflow.db").write_bytes(b"")
    assert tracking_uri(tmp_path, {}) == f"sqlite:///{tmp_path.resolve() / '.gitops' / 'mlflow.db'}"
