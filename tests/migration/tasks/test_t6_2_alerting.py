"""Task 6.2's alert drill issue: opened by the engine's forge locally, handed over on GitHub.

The drill reports its issue through ctx.incidents (gitops.forge.incidents): with the local forge
it is a file at once, so the check reads its state there; handed over (a GitHub evaluation holds
no write token), the evidence says the recording job opens and closes it, and the check judges
what the drill reported.
"""
from __future__ import annotations

import json
from pathlib import Path

from gitops.forge.incidents import IncidentLog, reported_at
from gitops.forge.local import LocalForge
from gitops.handlers import TaskContext
from gitops.model import CheckStatus
from gitops.tasklist import parser
from migration.production.incidents import close_resolved, firing, open_issues
from migration.tasks.t6_2_post_deployment_validation import OPENED_BY_RECORDING, check_alerting
from tests.conftest import ROOT
from tests.migration.production.test_incidents import ANSWER

MARKER = "alert:AssistantHighErrorRate:canary"


def drill(log: IncidentLog, resolve: bool = True) -> dict:
    """What validation.validate does with the forge it is given: open the alert's issue, close it once resolved."""
    issues = open_issues(firing(ANSWER), log, "http://127.0.0.1:9090")
    closed = close_resolved(issues, [], log, "2026-12-04T18:05:00Z") if resolve else []
    return {"fired": True, "resolved": resolve, "issues": issues, "closed": closed, "fired_after_seconds": 12,
            "resolved_after_seconds": 30, "drill_clients": {"failed": 3, "requests": 20}}


def context(tmp_path: Path, evidence: dict, root: Path) -> TaskContext:
    (tmp_path / "6.2").mkdir(exist_ok=True)
    (tmp_path / "6.2" / "evidence.json").write_text(json.dumps(evidence))
    tasklist, _ = parser.load(ROOT / "migration" / "B-1006.md")
    return TaskContext(tasklist.tasks["6.2"], root, tmp_path / "6.2", 1, {}, {}, lambda m: None)


def local_root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.gitops]\nforge_dir = ".gitops/forge"\n')
    return root


def test_locally_the_engines_forge_holds_the_closed_issue_and_the_evidence_its_path(tmp_path: Path) -> None:
    root = local_root(tmp_path)
    log = IncidentLog(LocalForge(root / ".gitops" / "forge"))
    evidence = drill(log)
    assert evidence["issues"] == {MARKER: str(root / ".gitops/forge/issues/alert-AssistantHighErrorRate-canary.md")}
    check = check_alerting(context(tmp_path, evidence, root))
    assert check.status == CheckStatus.PASSED and f"now {{'{MARKER}': 'closed'}};" in check.evidence


def test_handed_over_the_issue_is_reported_resolved_for_the_recording_job(tmp_path: Path) -> None:
    log = IncidentLog()
    evidence = drill(log) | {"issues_opened_by": OPENED_BY_RECORDING}
    assert evidence["issues"] == {MARKER: reported_at(MARKER)}
    [incident] = log.incidents
    assert incident.labels == ("incident", "production") and incident.resolved.startswith("resolved: Prometheus")
    check = check_alerting(context(tmp_path, evidence, local_root(tmp_path)))
    assert check.status == CheckStatus.PASSED and f"(opened and closed by {OPENED_BY_RECORDING})" in check.evidence


def test_handed_over_an_unresolved_issue_fails_the_check(tmp_path: Path) -> None:
    evidence = drill(IncidentLog(), resolve=False) | {"issues_opened_by": OPENED_BY_RECORDING}
    assert check_alerting(context(tmp_path, evidence, local_root(tmp_path))).status == CheckStatus.FAILED
