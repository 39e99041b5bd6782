"""Tasks 6.1 and 6.2 for real: nginx, Prometheus and both releases started, rolled out, rolled back, validated, torn down.

One production per module, in the session's repository copy with both DSPy environments (made a
git repository here, so that the steps are commits). nginx and Prometheus are installed when
missing (Debian, root) and are the project's own processes under the copy's .gitops/production/.
After the handler's run, the same stack is given bad input: production must stay as it was.
No timings are asserted.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from gitops.forge.incidents import IncidentLog
from gitops.forge.local import LocalForge
from gitops.handlers import Registry, TaskContext, TaskResult, match_checks
from gitops.run.execute import run_handler
from gitops.tasklist import parser
from migration.production import cli, reconciler, releases, render, stack
from migration.production.loadgen import LoadGenerator
from migration.production.spec import SPEC_PATH, dump, load, parse
from migration.production.tools import ToolError, ensure
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def deployed(dspy_environments: dict[str, Any]) -> Any:
    try:
        ensure(reconciler.TOOLS, dspy_environments["environ"], lambda m: None)
    except ToolError as error:
        pytest.skip(str(error))
    root: Path = dspy_environments["root"]
    if not (root / ".git").exists():
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A", "deploy", "migration/B-1006.md")
        git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "the repository copy")
    tasklist, _ = parser.load(root / "migration" / "B-1006.md")
    work = root / ".gitops" / "work" / "6.1"
    work.mkdir(parents=True, exist_ok=True)
    handler = Registry.from_module("migration.handlers").resolve("6.1")
    result = run_handler(handler, TaskContext(tasklist.tasks["6.1"], root, work, 1, dspy_environments["environ"], {},
                                              lambda m: None))
    yield result, root
    reconciler.down(root / stack.STATE_DIR, lambda m: None)


def checks(result: TaskResult) -> dict[str, dict[str, Any]]:
    return {c["criterion"]: c for c in result.checks}


def test_every_criterion_has_a_check() -> None:
    tasklist, _ = parser.load(ROOT / "migration" / "B-1006.md")
    paired, unmatched = match_checks(Registry.from_module("migration.handlers").resolve("6.1"), tasklist.tasks["6.1"])
    assert unmatched == [] and None not in paired


def test_every_criterion_passes_with_evidence(deployed: Any) -> None:
    result, _ = deployed
    assert result.error is None
    found = checks(result)
    assert {c: v["status"] for c, v in found.items()} == {c: "passed" for c in found}, found
    updated = found["Production environment updated with DSPy 3.0"]["evidence"]
    assert updated.startswith("rehearsal on the runner with the embedded stack (no production configured: "
                              "GITOPS_PRODUCTION_URL unset): "), updated
    assert "served by [('canary', 200)]" in updated
    assert "{'canary': '3.0.1'}" in found["Production environment updated with DSPy 3.0"]["evidence"]
    assert "32/32 identical to the stable baseline" in found["All existing functionality working correctly"]["evidence"]
    rollback = found["Rollback procedures tested and ready"]
    assert "rolled back at 10%: error_rate=" in rollback["evidence"] and "(0 did)" in rollback["evidence"]
    assert rollback["metrics"]["failed_requests"] <= rollback["metrics"]["budget"] == 15
    assert result.updates["rollback_ready"] is True


def test_every_step_and_the_rollback_are_commits_on_their_branch(deployed: Any) -> None:
    _, root = deployed
    subjects = [line.split(" ", 1)[1] for line in git(root, "log", "--format=%h %s", "gitops/production").splitlines()]
    assert subjects[:3] == ["rollout complete: canary serves 100%, stable retired", "rollout step 4/4: canary at 100%",
                            "rollout step 3/4: canary at 50%"]
    assert any(s.startswith("rehearsal rollback: analysis failed with canary at 10%") for s in subjects)
    assert git(root, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    declared = parse(git(root, "show", "gitops/production:deploy/production.yaml"), SPEC_PATH)
    assert declared.weights() == {"canary": 100}  # stable retired in the last commit


def test_a_broken_file_leaves_production_untouched(deployed: Any, tmp_path: Path, capsys: Any) -> None:
    _, root = deployed
    folder = root / stack.STATE_DIR
    before = (folder / stack.STATE_FILE).read_text()
    broken = tmp_path / "production.yaml"
    broken.write_text((root / SPEC_PATH).read_text().replace("weight: 0", "weight: 7"))
    assert cli.main(["up", "--root", str(root), "--spec", str(broken), "--state", str(folder)]) == 1
    assert f"{broken}:6: releases: the weights add up to 107, not 100" in capsys.readouterr().err
    assert (folder / stack.STATE_FILE).read_text() == before


def test_a_release_failing_its_health_check_gets_no_traffic(deployed: Any) -> None:
    _, root = deployed
    folder = root / stack.STATE_DIR
    state = stack.load_state(folder)
    current = load(root / SPEC_PATH).with_weights({"stable": 0, "canary": 100}).without("stable")
    broken = current.with_env("canary", {"GITOPS_FAULT": "nonsense"})  # the service refuses to start on it
    with pytest.raises(releases.ReleaseError, match="release canary failed its health check"):
        reconciler.reconcile(broken, root, folder, {}, lambda m: None)
    assert stack.load_state(folder).as_dict() == state.as_dict()
    assert stack.serving_generation(state.proxy) == state.generation


def test_a_proxy_configuration_failing_nginx_t_is_never_loaded(deployed: Any) -> None:
    _, root = deployed
    folder = root / stack.STATE_DIR
    state = stack.load_state(folder)
    nginx = ensure(("nginx",), {}, lambda m: None)["nginx"]
    text = render.nginx_conf(folder, state.proxy.port, {"canary": (1, 100)}).replace("keepalive 16;", "keepalive;")
    with pytest.raises(stack.StackError, match="nginx -t rejected .*; the running proxy is unchanged"):
        stack.apply_proxy(folder, nginx, state.proxy, text, {})
    assert stack.serving_generation(state.proxy) == state.generation
    assert dump(load(root / SPEC_PATH))  # the declared file is untouched too


@pytest.fixture(scope="module")
def validated(deployed: Any, dspy_environments: dict[str, Any]) -> TaskResult:
    """Task 6.2 on the production Task 6.1 left running, with a 15 s window (the pipeline's default is 60 s)."""
    _, root = deployed
    tasklist, _ = parser.load(root / "migration" / "B-1006.md")
    work = root / ".gitops" / "work" / "6.2"
    work.mkdir(parents=True, exist_ok=True)
    environ = {**dspy_environments["environ"], "GITOPS_VALIDATION_SECONDS": "15"}
    handler = Registry.from_module("migration.handlers").resolve("6.2")
    # As `gitops run` does locally: the engine's forge takes the incidents the drill reports at once.
    incidents = IncidentLog(LocalForge(root / ".gitops" / "forge"))
    return run_handler(handler, TaskContext(tasklist.tasks["6.2"], root, work, 1, environ, {}, lambda m: None,
                                            incidents=incidents))


def test_6_2_validates_and_drills_an_alert_into_a_forge_issue(validated: TaskResult, deployed: Any) -> None:
    assert validated.error is None
    found = checks(validated)
    # Latency is the machine's as much as the release's (no timings are asserted here): the check
    # must have measured production and the reference beside it; test_t6_2_latency_check.py judges.
    performance = found.pop("Performance metrics within acceptable ranges")
    assert {c: v["status"] for c, v in found.items()} == {c: "passed" for c in found}, found
    assert "to stable beside it, alternating: p50/p95/p99" in performance["evidence"], performance
    assert performance["metrics"]["p95_ratio"] > 0, performance
    alerting = found["Monitoring and alerting functional"]["evidence"]
    assert "AssistantHighErrorRate fired in Prometheus" in alerting
    assert "now {'alert:AssistantHighErrorRate:canary': 'closed'}" in alerting
    _, root = deployed
    issue = (root / ".gitops" / "forge" / "issues" / "alert-AssistantHighErrorRate-canary.md").read_text()
    assert "**State**: closed" in issue and "resolved: Prometheus no longer reports the alert firing" in issue
    subjects = git(root, "log", "--format=%s", "gitops/production").splitlines()
    assert subjects[:4] == ["alert drill over: canary without the fault",
                            "alert drill: canary with an injected fault (error=0.5)",
                            "validation window over: the reference stable retired",
                            "validation: stable beside production at weight 0, the latency reference"]
    work = root / ".gitops" / "work" / "6.2"
    assert validated.artifacts == tuple(str(work / n) for n in ("post-deployment-report.md", "rollout.png",
                                                                 "validation.png"))


def test_a_rollback_by_hand_brings_stable_back_at_100_percent_as_a_commit(validated: TaskResult, deployed: Any) -> None:
    """What the workflow's rollback input runs (`gitops rollback` -> `scripts/production rollback`), last."""
    _, root = deployed
    folder = root / stack.STATE_DIR
    assert cli.main(["rollback", "--root", str(root), "--reason", "drill: p95 doubled", "--by", "ada"]) == 0
    state = stack.load_state(folder)
    assert state.weights == {"canary": 0, "stable": 100}
    assert releases.health(state.releases["stable"].port)["dspy"] == "2.6.27"
    with LoadGenerator(state.proxy.url, ["What is DSPy?"], 10) as load:
        time.sleep(1.5)
    assert {(r.release, r.status) for r in load.records} == {("stable", 200)}
    assert git(root, "log", "-1", "--format=%s", "gitops/production") == "rollback by hand: drill: p95 doubled (ada)"
