"""Firing alerts to forge issues and back, with the real LocalForge (files) and Prometheus' answer shape."""
from __future__ import annotations

from pathlib import Path

from gitops.forge.local import LocalForge
from migration.production.incidents import close_resolved, firing, open_issues

ANSWER = [
    {"labels": {"alertname": "AssistantHighErrorRate", "release": "canary", "severity": "page"},
     "annotations": {"summary": "release canary fails 50% of /ask requests"}, "state": "firing",
     "activeAt": "2026-12-04T18:00:00Z", "value": "5e-01"},
    {"labels": {"alertname": "AssistantReleaseDown", "deployment": "stable"}, "annotations": {}, "state": "pending"},
]


def test_only_firing_alerts_count() -> None:
    alerts = firing(ANSWER)
    assert [(a.name, a.release, a.marker) for a in alerts] == [
        ("AssistantHighErrorRate", "canary", "alert:AssistantHighErrorRate:canary")]


def test_an_issue_opens_once_and_closes_when_resolved(tmp_path: Path) -> None:
    forge = LocalForge(tmp_path)
    opened = open_issues(firing(ANSWER), forge, "http://127.0.0.1:9090")
    open_issues(firing(ANSWER), forge, "http://127.0.0.1:9090")  # a re-run: the same file
    [(marker, path)] = opened.items()
    assert len(list((tmp_path / "issues").iterdir())) == 1
    text = Path(path).read_text()
    assert "# AssistantHighErrorRate: canary" in text and "**Labels**: incident, production" in text
    assert close_resolved(opened, firing(ANSWER), forge, "now") == []  # still firing: stays open
    assert forge.issue_state(marker) == "open"
    assert close_resolved(opened, [], forge, "18:01") == [marker]
    assert forge.issue_state(marker) == "closed"
