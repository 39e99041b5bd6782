"""`pip install gitops-tasklists` without extras, for real: a fresh venv gets the engine alone
(no dspy, mlflow or PyGithub), runs a **Run** task list end to end, and every feature that
needs an extra says which one to install.

The project is installed non-editable from a copy of its sources, as a wheel would install
it (a build in place would write build/ and *.egg-info into the checkout). uv is called as
the rest of the repository calls it (migration.environments.uv_command: $GITOPS_UV, uv on
PATH, python -m uv) and installs from its cache, pinned by constraints.txt like scripts/bootstrap.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA, ROOT

pytestmark = pytest.mark.slow

# What the distribution is built from ([tool.setuptools.packages.find] and `readme`).
SOURCES = ("pyproject.toml", "README.md", "gitops", "migration", "assistant")
EXTRAS = ("dspy", "mlflow", "github")  # import names of [b1006], [mlflow], [github]
GITHUB_MISSING = ("error: the GitHub forge needs PyGithub: pip install 'gitops-tasklists[github]', "
                  "or use --forge local\n")
MLFLOW_MISSING = ("error: MLflow tracking (GITOPS_TRACKING=on) needs mlflow: pip install 'gitops-tasklists[mlflow]', "
                  "or set GITOPS_TRACKING=off\n")
TRACKING_NOTE = ("note: MLflow tracking is off: mlflow is not installed (pip install 'gitops-tasklists[mlflow]' "
                 "turns it on; GITOPS_TRACKING=off hides this note)\n")
B1006_MISSING = "pip install 'gitops-tasklists[b1006]'"
IMPORTS = f"""
import importlib, json
found = {{}}
for name in {EXTRAS!r}:
    try:
        importlib.import_module(name)
        found[name] = True
    except ModuleNotFoundError:
        found[name] = False
print(json.dumps(found))
"""
# Task 1.1 of B-1006 has a handler in migration.handlers (installed with the engine); its
# module needs the [b1006] extra's libraries.
MIGRATION_TASKS = """# Process Task List: Extras

**Project**: Extras

### Phase 1: Set up

#### Task 1.1: Set up the environments
**Dependencies**: None

**Done when**:
- [ ] Both environments exist
"""


def uv() -> list[str]:
    from migration.environments.environment import SetupError, uv_command

    try:
        return uv_command(os.environ)
    except SetupError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the project installed without extras; its bin/ folder."""
    base = tmp_path_factory.mktemp("engine-only")
    source = base / "src"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                            if (ROOT / name).is_dir() else {}))
    venv = base / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    for command in (
        [*uv(), "venv", "--quiet", "--python", sys.executable, str(venv)],
        # The flags of scripts/bootstrap, without -e and without extras.
        [*uv(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "--compile-bytecode",
         "-c", str(ROOT / "constraints.txt"), str(source)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"
    return venv / "bin"


def gitops(bin_dir: Path, folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "GITOPS_TRACKING")}
    environ.update(GITOPS_APPROVER="ada", **env)
    return subprocess.run([str(bin_dir / "gitops"), *args], cwd=folder, capture_output=True, text=True,
                          env=environ, timeout=60)


def test_the_engine_installs_without_dspy_mlflow_or_pygithub(engine):
    done = subprocess.run([str(engine / "python"), "-c", IMPORTS], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == dict.fromkeys(EXTRAS, False)


def test_lint_plan_and_run_a_run_task_list(engine, tmp_path):
    shutil.copy(DATA / "run_pipeline.md", tmp_path)
    args = ("--tasklist", "run_pipeline.md", "--state", "state.json")
    lint = gitops(engine, tmp_path, *args, "lint")
    assert lint.returncode == 0, lint.stderr
    assert lint.stderr.endswith("run_pipeline.md: 4 tasks in 2 phases, 0 error(s), 0 warning(s)\n")
    plan = gitops(engine, tmp_path, *args, "plan", "--json")
    assert plan.returncode == 0, plan.stderr
    doc = json.loads(plan.stdout)
    assert doc["next"]["task"] == "1.1" and [t["id"] for t in doc["tasks"] if t["ready"]] == ["1.1"]

    run = gitops(engine, tmp_path, *args, "run")  # tracking: auto, and mlflow is not there
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr == TRACKING_NOTE
    assert "🛑 Stopped at gate 1.2: Site checked. Proceed to publishing?" in run.stdout
    state = json.loads((tmp_path / "state.json").read_text())
    assert {t: r["status"] for t, r in state["tasks"].items()} == {
        "1.1": "done", "1.2": "awaiting_approval", "2.1": "pending", "2.2": "pending"}
    assert state["tasks"]["1.1"]["mlflow_run_id"] is None
    assert (tmp_path / "out" / "index.html").exists() and not (tmp_path / "mlflow.db").exists()


def test_the_features_that_need_an_extra_name_it(engine, tmp_path):
    shutil.copy(DATA / "run_pipeline.md", tmp_path)
    args = ("--tasklist", "run_pipeline.md", "--state", "state.json")
    github = gitops(engine, tmp_path, "--forge", "github", *args, "status", GITHUB_TOKEN="t", GITHUB_REPOSITORY="o/r")
    assert (github.returncode, github.stdout, github.stderr) == (2, "", GITHUB_MISSING)
    tracked = gitops(engine, tmp_path, *args, "run", GITOPS_TRACKING="on")
    assert (tracked.returncode, tracked.stderr) == (2, MLFLOW_MISSING)
    assert not (tmp_path / "state.json").exists()


def test_a_migration_handler_fails_its_task_naming_the_b1006_extra(engine, tmp_path):
    (tmp_path / "tasks.md").write_text(MIGRATION_TASKS, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.gitops]\ntasklist = "tasks.md"\nhandlers = "migration.handlers"\n', encoding="utf-8")
    run = gitops(engine, tmp_path, "run", GITOPS_TRACKING="off")
    assert run.returncode == 1, run.stdout + run.stderr
    error = json.loads((tmp_path / "state.json").read_text())["tasks"]["1.1"]["error"]
    assert error.startswith("the handler of Task 1.1 cannot be loaded: migration.tasks.t1_1_environments needs ")
    assert error.endswith(f", which is not installed: {B1006_MISSING}")
    assert "Traceback" not in run.stdout + run.stderr
