"""`gitops rollback`: the registry's rollback commands run as task code, with the reason and who
asked in their environment (never the credentials), each recorded as a deployment on the forge."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitops.errors import BadInput
from gitops.forge.local import LocalForge
from gitops.handlers import Registry
from gitops.run.rollback import roll_back
from tests.gitops.run.test_task_env import ENGINE_ENV

SAYS = 'echo "$GITOPS_ROLLBACK_REASON ($GITOPS_ROLLBACK_BY), token ${GITHUB_TOKEN:-none}" > rolled.txt'


def rows(folder: Path, key: str) -> list[list[str]]:
    text = (folder / "deployments" / f"{key}.md").read_text()
    return [line.split(" | ")[1:3] for line in text.splitlines() if line.startswith("| 20")]


def test_the_command_runs_without_credentials_and_is_recorded_as_a_deployment(tmp_path: Path) -> None:
    forge, notes = LocalForge(tmp_path / "forge"), []
    environ = {**ENGINE_ENV, "GITHUB_RUN_ID": "77", "GITHUB_SHA": "a" * 40}
    assert roll_back({"6.1": SAYS}, forge, tmp_path, tmp_path / "logs", environ, "p95 doubled", "ada", notes.append)
    assert (tmp_path / "rolled.txt").read_text() == "p95 doubled (ada), token none\n"
    rehearsal = ("rehearsal on the runner with the embedded stack (no production configured: "
                 "GITOPS_PRODUCTION_URL unset)")
    assert rows(tmp_path / "forge", "rollback-6.1-77") == [["in_progress", f"rolling back: {rehearsal}"],
                                                           ["success", f"rolled back: {rehearsal}"]]
    assert notes[-1] == f"Task 6.1: `{SAYS}` rolled production back (log: {tmp_path / 'logs' / 'rollback-6.1.log'})"


def test_a_failing_command_fails_the_rollback_and_its_deployment(tmp_path: Path) -> None:
    forge, notes = LocalForge(tmp_path / "forge"), []
    environ = {"GITHUB_RUN_ID": "78", "GITOPS_PRODUCTION_URL": "https://assistant.example.org"}
    assert not roll_back({"6.1": "echo no stable release >&2; exit 4"}, forge, tmp_path, tmp_path / "logs", environ,
                         "why", "ada", notes.append)
    assert rows(tmp_path / "forge", "rollback-6.1-78")[-1] == ["failure",
                                                               "`echo no stable release >&2; exit 4` exited 4"]
    assert notes[-1].endswith("exited 4 (log: " + str(tmp_path / "logs" / "rollback-6.1.log") + "):\nno stable release")


def test_nothing_registered_is_said_and_fails() -> None:
    notes: list[str] = []
    assert not roll_back({}, LocalForge(Path("/nonexistent")), Path("."), Path("/nonexistent"), {}, "why", "ada",
                         notes.append)
    assert notes == ["nothing to roll back: the handler registry names no ROLLBACKS"]


def test_rollbacks_must_belong_to_deploying_tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad_rollbacks.py").write_text('HANDLERS = {"6.1": "m:H"}\nDEPLOYMENTS = ("6.1",)\n'
                                               'ROLLBACKS = {"6.2": "scripts/production rollback"}\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BadInput) as raised:
        Registry.from_module("bad_rollbacks")
    assert str(raised.value) == ("bad_rollbacks.ROLLBACKS must map task ids of DEPLOYMENTS to shell commands, e.g. "
                                 "{'6.1': 'scripts/production rollback'}; it is {'6.2': 'scripts/production "
                                 "rollback'}. Fix it in the module.")
