"""Task 6.1 against a production elsewhere, for real: a follower in pull mode, rolled out through pushes and URLs.

The "remote" production is the real stack (nginx, Prometheus, both releases) started by
`scripts/production follow` as its own process, in its own state folder, on fixed ports, following
a bare repository in a temp folder. The team's checkout is another repository that pushes there.
The handler gets only the two URLs and the remote: it must converge, judge the canary on real
metrics, and roll back on them; Task 6.2's evaluation then runs against it the same way (the
reference beside production by a commit, reached through the proxy by name; Prometheus' figures
over the window watched; the alert drill by commits), with a 15 s window; then a broken file
pushed to the branch must be refused while the old declaration keeps serving. No timings are asserted.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from gitops.handlers import Registry, TaskContext, TaskResult
from gitops.run.execute import run_handler
from gitops.tasklist import parser
from migration.production import reconciler
from migration.production.analysis import Prometheus, PrometheusError
from migration.production.history import BRANCH
from migration.production.loadgen import LoadGenerator, devset_questions
from migration.production.releases import free_port
from migration.production.remote import RemoteError, RemoteHistory, RemoteProduction, Settings
from migration.production.tools import ToolError, ensure
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          capture_output=True, text=True, check=True).stdout.strip()


def wait_applied(prometheus: Prometheus, commit: str, follower: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if prometheus.query(f'gitops_production_applied{{commit="{commit}"}}'):
                return
        except PrometheusError:
            pass  # Prometheus starts with the first commit's reconcile
        assert follower.poll() is None, log.read_text()
        time.sleep(0.5)
    raise AssertionError(f"the follower did not apply {commit}:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def remote(dspy_environments: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    environ = dspy_environments["environ"]
    try:
        ensure(reconciler.TOOLS, environ, lambda m: None)
    except ToolError as error:
        pytest.skip(str(error))
    base = tmp_path_factory.mktemp("remote-production")
    bare = base / "production.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    team = base / "team"  # the repository that declares production, as a team's checkout
    for name in ("deploy", "docs", "migration/B-1006.md", "pyproject.toml"):  # pyproject: the local forge's folder
        source, target = ROOT / name, team / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, target)
    git(team, "init", "-q", "-b", "main")
    git(team, "add", "-A")
    git(team, "commit", "-qm", "the team's repository")
    git(team, "push", "-q", str(bare), f"HEAD:refs/heads/{BRANCH}")
    proxy_port, prometheus_port = free_port(), free_port()
    state = base / "production-state"
    log = base / "follower.log"
    with log.open("w") as out:
        follower = subprocess.Popen(
            [sys.executable, "-m", "migration.production.cli", "follow", "--root", str(dspy_environments["root"]),
             "--state", str(state), "--remote", str(bare), "--branch", BRANCH, "--interval", "0.5",
             "--proxy-port", str(proxy_port), "--prometheus-port", str(prometheus_port)],
            stdout=out, stderr=subprocess.STDOUT, text=True, env=environ)
    settings = {"GITOPS_PRODUCTION_URL": f"http://127.0.0.1:{proxy_port}",
                "GITOPS_PROMETHEUS_URL": f"http://127.0.0.1:{prometheus_port}",
                "GITOPS_PRODUCTION_REMOTE": str(bare), "GITOPS_PRODUCTION_BRANCH": BRANCH}
    try:
        wait_applied(Prometheus(settings["GITOPS_PROMETHEUS_URL"]), git(team, "rev-parse", "HEAD"), follower, log)
        tasklist, _ = parser.load(team / "migration" / "B-1006.md")
        work = team / ".gitops" / "work" / "6.1"
        handler = Registry.from_module("migration.handlers").resolve("6.1")
        lines: list[str] = []
        result = run_handler(handler, TaskContext(tasklist.tasks["6.1"], team, work, 1, {**environ, **settings}, {},
                                                  lines.append))
        yield {"result": result, "team": team, "bare": bare, "settings": settings, "log": log, "lines": lines,
               "state": state, "follower": follower}
    finally:
        follower.terminate()
        follower.wait(30)
        reconciler.down(state, lambda m: None)


def checks(result: TaskResult) -> dict[str, dict[str, Any]]:
    return {c["criterion"]: c for c in result.checks}


def test_the_rollout_goes_to_that_production_through_pushes_and_its_urls(remote: dict[str, Any]) -> None:
    result, url = remote["result"], remote["settings"]["GITOPS_PRODUCTION_URL"]
    assert result.error is None, (result.error, remote["log"].read_text()[-3000:])
    found = checks(result)
    assert {c: v["status"] for c, v in found.items()} == {c: "passed" for c in found}, found
    updated = found["Production environment updated with DSPy 3.0"]["evidence"]
    assert updated.startswith(f"to production at {url}: "), updated
    assert "served by [('canary', 200)]" in updated and "{'canary=3.0.1': 20}" in updated
    rollback = found["Rollback procedures tested and ready"]
    assert "rolled back at 10%: error_rate=" in rollback["evidence"] and "(0 did)" in rollback["evidence"]
    # Each declaration is a commit on the branch production follows, and its follower applied the last one.
    subjects = git(remote["bare"], "log", "--format=%s", BRANCH).splitlines()
    assert subjects[0] == "rollout complete: canary serves 100%, stable retired"
    assert any(s.startswith("rehearsal rollback: analysis failed with canary at 10% (error_rate=") for s in subjects)
    tip = git(remote["bare"], "rev-parse", BRANCH)
    prometheus = Prometheus(remote["settings"]["GITOPS_PROMETHEUS_URL"])
    assert [m["commit"] for m, _ in prometheus.query("gitops_production_applied")] == [tip]


def test_the_canary_analysis_read_real_metrics(remote: dict[str, Any]) -> None:
    evidence = json.loads((remote["team"] / ".gitops" / "work" / "6.1" / "evidence.json").read_text())
    rehearsal = evidence["rehearsal"]["steps"][0]["analysis"]
    rates = [m["value"] for row in rehearsal["measurements"] for m in row if m["metric"] == "error_rate"]
    assert any(r is not None and r > 0.02 for r in rates), rates  # the injected 50% seen by Prometheus
    for step in evidence["rollout"]["steps"][:3]:
        ratios = [m["value"] for row in step["analysis"]["measurements"] for m in row if m["metric"] == "p95_ratio"]
        assert any(r is not None for r in ratios), step
    assert evidence["where"] == f"to production at {remote['settings']['GITOPS_PRODUCTION_URL']}"
    assert all(d["commit"] for d in evidence["declarations"])


@pytest.fixture(scope="module")
def validated(remote: dict[str, Any]) -> dict[str, Any]:
    """Task 6.2 evaluated against that production after 6.1, as the windows workflow would: its window opened now."""
    team, settings = remote["team"], remote["settings"]
    opened = datetime.now(timezone.utc).isoformat(timespec="seconds")
    tasklist, _ = parser.load(team / "migration" / "B-1006.md")
    state = {"tasks": {"6.2": {"window": {"opened_at": opened, "until": opened}}}}  # the task record's window
    environ = {**os.environ, **settings, "GITOPS_VALIDATION_SECONDS": "15"}
    handler = Registry.from_module("migration.handlers").resolve("6.2")
    lines: list[str] = []
    result = run_handler(handler, TaskContext(tasklist.tasks["6.2"], team, team / ".gitops" / "work" / "6.2", 1,
                                              environ, state, lines.append))
    return {"result": result, "opened": opened, "lines": lines}


def test_6_2_evaluates_that_production_through_its_urls_and_pushes(remote: dict[str, Any],
                                                                   validated: dict[str, Any]) -> None:
    result, url = validated["result"], remote["settings"]["GITOPS_PRODUCTION_URL"]
    assert result.error is None, (result.error, validated["lines"][-20:], remote["log"].read_text()[-3000:])
    found = checks(result)
    # Latency is the machine's as much as the release's: the check must have measured, not passed.
    performance = found.pop("Performance metrics within acceptable ranges")
    assert {c: v["status"] for c, v in found.items()} == {c: "passed" for c in found}, found
    assert performance["evidence"].startswith(f"to production at {url}: validation window of 15 s"), performance
    assert "Prometheus' histogram over the scheduled window from its opening: " + validated["opened"] in \
        performance["evidence"]
    assert found["All system functionality validated in production"]["evidence"].startswith(f"contract through {url}")
    assert "now {'alert:AssistantHighErrorRate:canary': 'closed'}" in found["Monitoring and alerting functional"][
        "evidence"]
    # As the windows workflow's evaluation: no forge to write to, so the incident is handed over, resolved.
    assert "(opened and closed by the recording job" in found["Monitoring and alerting functional"]["evidence"]
    assert [(i.marker, "incident" in i.labels, i.resolved is not None) for i in result.incidents] == \
        [("alert:AssistantHighErrorRate:canary", True, True)]
    evidence = json.loads((remote["team"] / ".gitops" / "work" / "6.2" / "evidence.json").read_text())
    # The reference went through the production URL, by name, and the stable release answered it.
    assert evidence["reference"] == {"release": "stable", "environment": "production", "url": url,
                                     "headers": {"X-Gitops-Release": "stable"}}
    assert set(evidence["window_reference"]["served_by"]) == {"stable"}
    assert set(evidence["window_clients"]["served_by"]) == {"canary"}
    # Read from that production's Prometheus over the span since the window opened.
    assert evidence["prometheus"] == remote["settings"]["GITOPS_PROMETHEUS_URL"]
    assert evidence["span"]["from"] == validated["opened"] and evidence["span"]["scheduled"] is True
    assert evidence["window_server"]["requests"] > 0 and evidence["reference_server"]["requests"] > 0
    assert evidence["window_server"]["p95_ms"] is not None and evidence["reference_server"]["p95_ms"] is not None
    subjects = git(remote["bare"], "log", "--format=%s", BRANCH).splitlines()
    assert subjects[:4] == ["alert drill over: canary without the fault",
                            "alert drill: canary with an injected fault (error=0.5)",
                            "validation window over: the reference stable retired",
                            "validation: stable beside production at weight 0, the latency reference"]
    prometheus = Prometheus(remote["settings"]["GITOPS_PROMETHEUS_URL"])
    assert [m["commit"] for m, _ in prometheus.query("gitops_production_applied")] == [
        git(remote["bare"], "rev-parse", BRANCH)]
    assert not (remote["team"] / ".gitops" / "production").exists()  # nothing started on the runner


def test_a_broken_pushed_file_is_refused_and_the_old_declaration_keeps_serving(remote: dict[str, Any]) -> None:
    settings = Settings.from_environ(remote["settings"])
    history = RemoteHistory(remote["team"], settings.remote, settings.branch)
    before = history.tip()
    prometheus = Prometheus(settings.prometheus_url)
    production = RemoteProduction(settings, history, prometheus, lambda m: None, timeout=60)
    broken = (history.read() or "") + "surprise: true\n"  # an unknown key: the file is read strictly
    commit = history.record(broken, "a broken declaration")
    with pytest.raises(RemoteError) as refused:
        production.wait(commit, "a broken declaration")
    assert f"refused {commit[:12]}" in str(refused.value) and "deploy/production.yaml:" in str(refused.value)
    assert [m["commit"] for m, _ in prometheus.query("gitops_production_applied")] == [before]
    with LoadGenerator(settings.production_url, devset_questions(), 10) as load:
        time.sleep(2)
    assert {(r.release, r.status) for r in load.records} == {("canary", 200)}
    assert f"refused {commit[:12]}" in remote["log"].read_text()
    assert os.path.exists(remote["state"] / "follow.json")


def test_a_rollback_by_hand_is_pushed_and_applied_even_over_a_refused_tip(remote: dict[str, Any]) -> None:
    settings = remote["settings"]
    done = subprocess.run([sys.executable, "-m", "migration.production.cli", "rollback", "--reason", "p95 doubled",
                           "--by", "ada", "--root", str(remote["team"])], capture_output=True, text=True,
                          env={**os.environ, **settings}, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    # The tip was the refused file: the rollback starts from the checked-in declaration.
    assert f"rolling back from {remote['team'] / 'deploy' / 'production.yaml'} as checked in" in done.stdout
    assert f"rolled back: {{'canary': 0, 'stable': 100}} on {settings['GITOPS_PRODUCTION_URL']}" in done.stdout
    assert git(remote["bare"], "log", "-1", "--format=%s", BRANCH) == "rollback by hand: p95 doubled (ada)"
    with LoadGenerator(settings["GITOPS_PRODUCTION_URL"], devset_questions(), 10) as load:
        time.sleep(2)
    assert {(r.release, r.status) for r in load.records} == {("stable", 200)}
