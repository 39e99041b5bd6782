"""The engine with GitHubForge against the stand-in: a failed task opens its HotFix issue on
"GitHub"; during an outage the result is still in state.json, the failure is reported, and the
next command opens the issue exactly once."""
from __future__ import annotations

import json
from pathlib import Path

from gitops.handlers import Registry
from gitops.run.runner import Runner
from tests.gitops.builders import task, tasklist
from tests.gitops.github.conftest import make_forge


class NotesUI:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def task_started(self, *args) -> None: ...

    def task_finished(self, *args) -> None: ...

    def note(self, message: str) -> None:
        self.notes.append(message)

    def confirm(self, step, approver):
        return None


def make_runner(folder: Path, environ: dict[str, str]) -> Runner:
    # The command no longer sees the token (run/task_env.py); a value it prints anyway is masked.
    failing = task("1.1", criteria=1,
                   run=f'echo "push failed with token {environ["GITHUB_TOKEN"]}, env has ${{GITHUB_TOKEN:-none}}" >&2; exit 3')
    return Runner(
        tasklist=tasklist(failing, task("1.2", ("1.1",), criteria=1, run="true")),
        state_path=folder / "state.json",
        root=folder,
        work_dir=folder / ".gitops",
        forge=make_forge(environ),
        registry=Registry({}),
        ui=NotesUI(),
        environ=environ,
        clock=lambda: "2026-11-24T00:00:00+00:00",
    )


def read(folder: Path) -> dict:
    return json.loads((folder / "state.json").read_text())


def test_a_failed_task_opens_its_hotfix_issue_on_github(api, environ, tmp_path):
    runner = make_runner(tmp_path, environ)
    outcome = runner.run("ada")
    assert (outcome.exit_code, outcome.step.kind.value) == (1, "paused")
    (issue,) = api.github.hotfix_issues()
    assert issue["labels"] == ["hotfix", "task:1.1"]
    assert issue["title"].startswith("T-HotFix-1")
    assert issue["body"].startswith("<!-- gitops:hotfix:1.1 -->\n")
    assert "push failed with token ***, env has none" in issue["body"] and environ["GITHUB_TOKEN"] not in issue["body"]
    hotfix = read(tmp_path)["hotfixes"][0]
    assert (hotfix["id"], hotfix["issue"]) == ("T-HotFix-1", f"{api.url}/octo/pipeline/issues/{issue['number']}")
    runner.run("ada")  # a re-run while paused adds nothing
    assert len(api.github.hotfix_issues()) == 1


def test_during_an_outage_the_result_is_kept_and_the_next_command_opens_the_issue_once(api, environ, tmp_path):
    runner = make_runner(tmp_path, environ)
    api.fail(502, times=10_000)
    outcome = runner.run("ada")
    assert outcome.exit_code == 1
    state = read(tmp_path)
    assert state["tasks"]["1.1"]["status"] == "failed"
    assert state["hotfixes"][0]["issue"] in (None, "")
    assert any(n.startswith("warning: could not update the forge (GitHub kept failing while reading repository "
                            "octo/pipeline (too many 502 error responses") for n in runner.ui.notes)
    summary = Path(environ["GITHUB_STEP_SUMMARY"]).read_text()
    assert "**gitops could not update GitHub (opening issue hotfix:1.1)**: GitHub kept failing" in summary
    assert api.github.issues == {}

    api.clear()
    runner.run("ada")  # the next command: flushes the notice that failed
    runner.run("ada")
    (issue,) = api.github.hotfix_issues()
    assert read(tmp_path)["hotfixes"][0]["issue"] == f"{api.url}/octo/pipeline/issues/{issue['number']}"
    assert len([r for r in api.writes() if r.path == "/repos/octo/pipeline/issues"
                and "hotfix" in r.body.get("labels", [])]) == 1
