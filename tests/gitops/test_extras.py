"""A feature whose extra is not installed says which extra to install, in one line, never a traceback.

The extras are simulated as missing with `sys.modules[name] = None` (this venv has them all);
tests/gitops/test_install.py checks the same messages in a venv that really lacks them.
"""
from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitops import extras
from gitops.cli import main
from gitops.errors import BadInput, MissingExtra
from gitops.forge.local import LocalForge
from gitops.handlers import Registry
from gitops.run.runner import Runner
from gitops.wiring import tracking_mode
from tests.conftest import DATA
from tests.gitops.builders import task, tasklist
from tests.gitops.test_bench import QuietUI

GITHUB_MISSING = ("error: the GitHub forge needs PyGithub: pip install 'gitops-tasklists[github]', "
                  "or use --forge local\n")
MLFLOW_MISSING = ("error: MLflow tracking (GITOPS_TRACKING=on) needs mlflow: pip install 'gitops-tasklists[mlflow]', "
                  "or set GITOPS_TRACKING=off\n")
TRACKING_NOTE = ("note: MLflow tracking is off: mlflow is not installed (pip install 'gitops-tasklists[mlflow]' "
                 "turns it on; GITOPS_TRACKING=off hides this note)\n")


def missing(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make `import <module>` fail with ModuleNotFoundError, as in an install without the extra."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITOPS_APPROVER", "ada")
    shutil.copy(DATA / "run_pipeline.md", tmp_path)
    return tmp_path


def gitops(*args: str):
    return CliRunner().invoke(main, ["--tasklist", "run_pipeline.md", "--state", "state.json", *args],
                              catch_exceptions=False)


def test_require_passes_when_installed_and_names_the_extra_when_not(monkeypatch):
    extras.require("click", "anything")  # not in the table: only looked up when missing
    missing(monkeypatch, "github")
    with pytest.raises(MissingExtra) as raised:
        extras.require("github", "the GitHub forge")
    assert str(raised.value) == "the GitHub forge needs PyGithub: pip install 'gitops-tasklists[github]'"
    assert isinstance(raised.value, BadInput) and raised.value.exit_code == 2


def test_every_extra_in_the_table_is_declared_in_pyproject():
    import tomllib

    project = tomllib.loads((DATA.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = set(project["optional-dependencies"])
    assert {e.name for e in extras.MODULES.values()} | set(extras.PACKAGES.values()) <= declared


def test_forge_github_without_pygithub_says_which_extra_before_asking_for_a_token(site, monkeypatch):
    missing(monkeypatch, "github")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    result = gitops("--forge", "github", "status")
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", GITHUB_MISSING)


def test_tracking_turned_on_without_mlflow_names_the_extra(site, monkeypatch):
    missing(monkeypatch, "mlflow")
    monkeypatch.setenv("GITOPS_TRACKING", "on")
    result = gitops("run")
    assert (result.exit_code, result.stderr) == (2, MLFLOW_MISSING)
    assert not (site / "state.json").exists()


def test_by_default_a_run_without_mlflow_is_untracked_with_a_one_line_note(site, monkeypatch):
    missing(monkeypatch, "mlflow")
    monkeypatch.delenv("GITOPS_TRACKING", raising=False)
    result = gitops("run")
    assert result.exit_code == 0, result.output
    assert result.stderr == TRACKING_NOTE
    state = json.loads((site / "state.json").read_text())
    assert state["tasks"]["1.1"]["status"] == "done" and state["tasks"]["1.1"]["mlflow_run_id"] is None
    assert not (site / "mlflow.db").exists()
    status = gitops("status", "--json")  # only commands that execute tasks say it
    assert status.exit_code == 0 and status.stderr == ""


@pytest.mark.parametrize(("value", "mode"), [("", "auto"), ("Auto", "auto"), ("ON", "on"), ("1", "on"), ("no", "off")])
def test_tracking_mode(value, mode):
    assert tracking_mode({"GITOPS_TRACKING": value}) == mode


def test_an_unknown_tracking_mode_is_bad_input():
    with pytest.raises(BadInput, match=r"GITOPS_TRACKING is 'sometimes': set it to on, off or auto"):
        tracking_mode({"GITOPS_TRACKING": "sometimes"})


def handler_module(folder: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, name, raising=False)


def run_one(folder: Path, ref: str) -> dict:
    runner = Runner(
        tasklist=tasklist(task("1.1", criteria=1)),
        state_path=folder / "state.json",
        root=folder,
        work_dir=folder / ".gitops",
        forge=LocalForge(folder / ".gitops" / "forge"),
        registry=Registry({"1.1": ref}),
        ui=QuietUI(),
        environ={},
        clock=lambda: "2026-11-24T00:00:00+00:00",
    )
    assert runner.run("ada").exit_code == 1
    return json.loads((folder / "state.json").read_text())["tasks"]["1.1"]


def test_a_handler_whose_module_needs_dspy_fails_its_task_naming_the_b1006_extra(tmp_path, monkeypatch):
    missing(monkeypatch, "dspy")
    handler_module(tmp_path, monkeypatch, "needs_dspy", "import dspy\n")
    record = run_one(tmp_path, "needs_dspy:HANDLER")
    assert record["error"] == ("the handler of Task 1.1 cannot be loaded: needs_dspy needs dspy, which is not "
                               "installed: pip install 'gitops-tasklists[b1006]'")
    assert (tmp_path / ".gitops" / "forge" / "issues" / "hotfix-1.1.md").exists()


def test_an_action_that_imports_an_extra_lazily_ends_its_error_with_the_extra(tmp_path, monkeypatch):
    missing(monkeypatch, "mlflow")
    handler_module(tmp_path, monkeypatch, "lazy_mlflow", """
        from gitops.handlers import Handler

        def act(ctx):
            import mlflow  # noqa: F401

        HANDLER = Handler(action=act, checks={})
    """)
    error = run_one(tmp_path, "lazy_mlflow:HANDLER")["error"]
    assert error.startswith("the action of Task 1.1 raised:\nTraceback")
    assert error.endswith("\nlazy_mlflow needs mlflow, which is not installed: pip install 'gitops-tasklists[mlflow]'")


def test_the_migrations_handlers_name_b1006_whichever_of_its_libraries_is_missing():
    lost = ModuleNotFoundError("No module named 'packaging'", name="packaging")
    assert extras.missing_hint(lost, "migration.tasks.t1_1_environments") == (
        "migration.tasks.t1_1_environments needs packaging, which is not installed: pip install 'gitops-tasklists[b1006]'")
    assert extras.missing_hint(lost, "team.handlers") is None  # a team's own dependency: the traceback says it
    assert extras.missing_hint(ValueError("x"), "migration.x") is None
