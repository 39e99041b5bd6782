"""scripts/mlflow-server for real: a server with basic auth on a free port, a pipeline run logged
over HTTP with credentials and read back, anonymous requests refused, nothing left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gitops.handlers import TaskResult
from gitops.tracking import processes
from gitops.tracking import server as tracking_server
from gitops.tracking.server import healthy
from gitops.tracking.tracker import MlflowTracker
from tests.conftest import ROOT
from tests.gitops.builders import task, tasklist

pytestmark = pytest.mark.slow
SCRIPT = str(ROOT / "scripts" / "mlflow-server")
CREDS = {"MLFLOW_TRACKING_USERNAME": "ada", "MLFLOW_TRACKING_PASSWORD": "correct-horse-battery"}


def script(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120, check=check
    )


def status_of(url: str, user: str | None = None, password: str | None = None) -> int:
    request = urllib.request.Request(f"{url}/api/2.0/mlflow/experiments/search?max_results=1")
    if user:
        import base64

        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def group_gone(pgid: int) -> bool:
    return not processes.group_alive(pgid) and not processes.alive(pgid)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`scripts/mlflow-server start --port 0` with the admin from the environment; stopped at the end."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    done = script("start", "--port", "0", "--dir", str(folder), env=CREDS)
    url = done.stdout.splitlines()[0]
    pid = json.loads((folder / "server.pid").read_text())["pid"]
    yield folder, url, pid
    script("stop", "--dir", str(folder))


def test_start_prints_the_url_and_writes_a_private_config(server):
    folder, url, _ = server
    assert url.startswith("http://127.0.0.1:") and healthy(url)
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    ini = (folder / "basic_auth.ini").read_text()
    assert "admin_username = ada\n" in ini and "admin_password = correct-horse-battery\n" in ini
    assert "password1234" not in ini and oct((folder / "basic_auth.ini").stat().st_mode & 0o777) == "0o600"
    assert tracking_server.read_env_file(folder / "client.env") == {"MLFLOW_TRACKING_URI": url, **CREDS}


def test_anonymous_and_wrong_credentials_are_refused(server):
    _, url, _ = server
    assert status_of(url) == 401
    assert status_of(url, "ada", "wrong-password-123") == 401
    assert status_of(url, "admin", "password1234") == 401  # MLflow's default admin does not exist
    assert status_of(url, *CREDS.values()) == 200


def test_a_pipeline_run_is_logged_over_http_and_read_back(server, monkeypatch, tmp_path):
    _, url, _ = server
    for key, value in CREDS.items():
        monkeypatch.setenv(key, value)
    tl = tasklist(task("1.1", criteria=1, title="Over HTTP"))
    state = {"project": "Served", "tasks": {"1.1": {"status": "done", "attempts": 2, "commit": "abc", "run_url": None}}}
    result = TaskResult(
        [
            {
                "criterion": "criterion 1 of 1.1",
                "status": "passed",
                "evidence": "12 requests",
                "metrics": {"requests": 12},
            }
        ]
    )
    tracker = MlflowTracker(tmp_path, {"GITHUB_RUN_ID": "77", **CREDS}, url)
    run_id = tracker.log_task(tl, "1.1", state, result, 2.5)
    tracker.close({"completed_count": 1, "total_tasks": 1})
    run = tracker.client().get_run(run_id)
    assert run.data.params["attempt"] == "2" and run.data.metrics["check.c1_criterion_1_of_1_1.requests"] == 12
    assert tracker.client().get_run(tracker.parent_run_id).data.tags["gitops.pipeline_run"] == "77"
    report = Path(tracker.client().download_artifacts(run_id, "report.md", str(tmp_path))).read_text()
    assert report.startswith("# Task 1.1: Over HTTP\n") and "12 requests" in report


def test_status_then_stop_leaves_no_process(server):
    folder, url, pid = server
    assert script("status", "--dir", str(folder)).stdout.startswith(f"{url} (pid {pid}, healthy)")
    assert script("start", "--dir", str(folder)).stdout.splitlines()[0] == url  # already running: same server
    assert script("stop", "--dir", str(folder)).stdout.strip() == "stopped"
    assert group_gone(pid) and not healthy(url) and not (folder / "server.pid").exists()
    assert script("status", "--dir", str(folder), check=False).returncode == 3


def test_a_short_password_is_refused_before_anything_starts(tmp_path):
    done = script(
        "start", "--port", "0", "--dir", str(tmp_path), env={**CREDS, "MLFLOW_TRACKING_PASSWORD": "short"}, check=False
    )
    assert done.returncode == 1 and not (tmp_path / "server.pid").exists()
    assert done.stderr == (
        "error: MLFLOW_TRACKING_PASSWORD must have at least 12 characters and no surrounding spaces (MLflow's basic "
        "auth refuses it otherwise). Set a longer one, or unset it to have one generated.\n"
    )


def test_a_restart_in_the_foreground_takes_the_new_password_and_stops_on_sigterm(server):
    """MLflow creates the admin once; a restart with another MLFLOW_TRACKING_PASSWORD updates it."""
    folder, first_url, _ = server
    tracking_server.stop(folder)  # already stopped when the tests run in file order
    env = {**os.environ, **CREDS, "MLFLOW_TRACKING_PASSWORD": "another-long-password"}
    proc = subprocess.Popen(
        [SCRIPT, "start", "--foreground", "--port", "0", "--dir", str(folder)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    url = proc.stdout.readline().strip()
    try:
        deadline = time.monotonic() + 90
        while not healthy(url) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert url != first_url and status_of(url, "ada", "another-long-password") == 200
        assert status_of(url, *CREDS.values()) == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert group_gone(proc.pid) and not healthy(url)


def test_a_stale_pid_file_never_stops_another_process(tmp_path):
    other = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / "server.pid").write_text(json.dumps({"pid": other.pid, "port": 1, "url": "http://127.0.0.1:1"}))
        assert tracking_server.running(tmp_path) is None and tracking_server.stop(tmp_path) is False
        assert other.poll() is None and not (tmp_path / "server.pid").exists()
    finally:
        other.kill()
        other.wait()
