"""Tasks 1.1 and 1.2 for real, through the engine, on a temporary copy of the repository.

uv builds both environments (about a minute with a warm cache, most of it compiling
bytecode), then Task 1.2 probes the candidate. The environments are built once for this
module. The uv-against-pip timing is switched off (GITOPS_PIP_BASELINE=off): pip alone would
add a minute; its rules are tested in test_install_timing.py.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gitops.forge.local import LocalForge
from gitops.handlers import Registry, TaskContext
from gitops.run.runner import Runner
from gitops.tasklist import parser
from migration.environments.environment import Environment, SetupError, uv_command
from migration.tasks import t1_1_environments as setup_environments
from tests.conftest import ROOT
from tests.gitops.test_bench import QuietUI

pytestmark = pytest.mark.slow
COPIED = ("pyproject.toml", "constraints.txt", "docs", "migration", "gitops", "assistant")


def repo_copy(folder: Path) -> Path:
    """The files the handlers read, copied (the real constraints.txt is never edited)."""
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, folder / name)
    return folder


def runner(root: Path, environ: dict[str, str]) -> Runner:
    tasklist, _ = parser.load(root / "migration" / "B-1006.md")
    return Runner(
        tasklist=tasklist, state_path=root / "state.json", root=root, work_dir=root / ".gitops",
        forge=LocalForge(root / ".gitops" / "forge"),
        registry=Registry({"1.1": "migration.tasks.t1_1_environments:HANDLER", "1.2": "migration.tasks.t1_2_configure_dspy3:HANDLER"}),
        ui=QuietUI(), environ=environ, clock=lambda: "2026-11-24T00:00:00+00:00",
    )


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run Task 1.1, approve its checkpoint, run Task 1.2; return the root and the state."""
    try:
        uv_command(os.environ)
    except SetupError as exc:
        pytest.skip(str(exc))
    root = repo_copy(tmp_path_factory.mktemp("repo"))
    environ = {**os.environ, "GITOPS_PIP_BASELINE": "off"}
    run = runner(root, environ)
    first = run.run("tester", until="1.1")
    second = run.run("tester", auto_approve=True, only="1.2")
    state = json.loads((root / "state.json").read_text())
    return {"root": root, "environ": environ, "state": state, "outcomes": (first, second)}


def checks(state: dict, task_id: str) -> dict[str, dict]:
    """A task's check records by criterion text up to its first parenthesis."""
    return {c["criterion"].split(" (")[0]: c for c in state["tasks"][task_id]["checks"]}


def test_task_1_1_builds_two_isolated_environments(pipeline):
    state, root = pipeline["state"], pipeline["root"]
    task = state["tasks"]["1.1"]
    assert task["error"] is None, task["error"]
    found = checks(state, "1.1")
    assert {c["status"] for c in found.values()} == {"passed"}, found
    assert "dspy==3.0.1" in (root / "constraints.txt").read_text().splitlines()
    assert "constraints.txt:" in found["DSPy 3.0.1 pinned in constraints.txt"]["evidence"]
    created = found["Isolated Python virtual environment created with DSPy 3.0.1"]
    assert f"{root}/.venvs/candidate/bin/python: dspy.__version__ == 3.0.1" in created["evidence"]
    assert "uv against pip: not measured (GITOPS_PIP_BASELINE=off)" in created["evidence"]
    assert created["metrics"]["candidate_create_seconds"] > 0 and created["metrics"]["production_create_seconds"] > 0
    assert "candidate: built by uv in " in created["evidence"] and "this run: built" in created["evidence"]
    isolation = found["Environment isolation verified"]["evidence"]
    assert f"production: sys.prefix {root}/.venvs/production; dspy 2.6.27; DSPY_CACHEDIR -> {root}/.venvs/production/dspy-cache" in isolation
    assert f"candidate: sys.prefix {root}/.venvs/candidate; dspy 3.0.1" in isolation
    assert ", 0 from outside its prefix, the stdlib and the project source; 0 site-packages on sys.path besides its own" in isolation
    deps = found["All existing dependencies installed and compatible"]["evidence"]
    assert deps.count("All installed packages are compatible") == 2
    assert "Predict('question -> answer')(question='What is 2+2?').answer == '4'" in found["Basic DSPy 3.0.1 functionality validated"]["evidence"]
    metrics = state["performance_metrics"]
    assert {"env_production_create_seconds", "env_candidate_create_seconds"} <= set(metrics)


def test_the_project_imports_in_both_environments_with_each_dspy(pipeline):
    root = pipeline["root"]
    for name, version in (("production", "2.6.27"), ("candidate", "3.0.1")):
        proc = Environment(name, root).run("import dspy, migration.environments.pins as p; print(dspy.__version__, p.__file__)")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == [version, str(root.resolve() / "migration" / "environments" / "pins.py")]


def test_a_second_run_of_task_1_1_reuses_both_environments_and_changes_nothing(pipeline):
    root, environ = pipeline["root"], pipeline["environ"]
    watched = [root / "constraints.txt", *(root / ".venvs" / n / f for n in ("production", "candidate")
                                          for f in ("requirements.lock", "gitops-env.json", "constraints.txt"))]
    before = {p: p.stat().st_mtime_ns for p in watched}
    freeze = [_freeze(root, name, environ) for name in ("production", "candidate")]
    dspy_files = {n: Environment(n, root).site_packages() / "dspy" / "__init__.py" for n in ("production", "candidate")}
    inodes = {n: p.stat().st_ino for n, p in dspy_files.items()}
    task = runner(root, environ).tasklist.tasks["1.1"]
    work = root / ".gitops" / "work" / "1.1"
    updates = setup_environments.action(TaskContext(task, root, work, 2, environ, {}, lambda message: None))
    recorded = json.loads((work / "environments.json").read_text())
    for name, setup in recorded["setups"].items():
        assert setup["reused"] is True, name
        assert "installed" not in setup["counts"] and "uninstalled" not in setup["counts"], setup["counts"]
    assert recorded["pinned_now"] is False
    assert {p: p.stat().st_mtime_ns for p in watched} == before
    assert [_freeze(root, name, environ) for name in ("production", "candidate")] == freeze
    assert {n: p.stat().st_ino for n, p in dspy_files.items()} == inodes
    built = {k: v for k, v in pipeline["state"]["performance_metrics"].items() if k.startswith("env_")}
    assert updates["performance_metrics"] == built  # the build times, not this run's verification


def test_task_1_2_probes_dspy3_in_the_candidate(pipeline):
    state = pipeline["state"]
    task = state["tasks"]["1.2"]
    assert task["error"] is None, task["error"]
    found = checks(state, "1.2")
    assert {c["status"] for c in found.values()} == {"passed"}, found
    assert ".venvs/candidate/bin/python: dspy.__version__ == 3.0.1" in found["DSPy 3.0 successfully installed in test environment"]["evidence"]
    assert "dspy.settings.lm is that LM: True; Predict answered '4'" in found["Basic configuration validated"]["evidence"]
    removed = found["Removed assertion APIs absent"]["evidence"]
    assert "absent from dspy: Assert, Suggest, assert_transform_module; present: Refine, BestOfN" in removed
    assert "mlflow.dspy.autolog() traced a Predict call" in found["MLflow integration capabilities verified"]["evidence"]
    optimizers = found["Enhanced optimization features tested"]
    assert optimizers["metrics"]["gepa_reflection_calls"] >= 1
    for name in ("GEPA(max_metric_calls=8, reflection_lm=DummyLM): compiled", "SIMBA(bsize=2, num_candidates=2, max_steps=1): compiled",
                 "MIPROv2(auto=None, num_candidates=2), compile(num_trials=2, minibatch, num_trials, requires_permission_to_run): compiled"):
        assert name in optimizers["evidence"]
    probes = json.loads((pipeline["root"] / ".gitops" / "work" / "1.2" / "probes.json").read_text())
    assert {name: result["ok"] for name, result in probes.items()} == dict.fromkeys(probes, True)
    assert {"dspy3_probe_gepa_seconds", "dspy3_probe_mlflow_seconds"} <= set(state["performance_metrics"])


def _freeze(root: Path, name: str, environ: dict[str, str]) -> str:
    python = Environment(name, root).python
    return subprocess.run([*uv_command(environ), "pip", "freeze", "--python", str(python)],
                          capture_output=True, text=True, check=True).stdout
