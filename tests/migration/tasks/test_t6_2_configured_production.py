"""Task 6.2 with a configured production: its window opens only with both URLs, and nothing starts on the runner."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops.handlers import TaskContext
from gitops.tasklist import parser
from migration.production.remote import RemoteError
from migration.tasks.t6_2_post_deployment_validation import action
from tests.conftest import ROOT


def context(tmp_path: Path, environ: dict[str, str]) -> TaskContext:
    tasklist, _ = parser.load(ROOT / "migration" / "B-1006.md")
    return TaskContext(tasklist.tasks["6.2"], tmp_path, tmp_path / "work" / "6.2", 1, environ, {}, lambda m: None)


def test_one_url_without_the_other_stops_before_the_window_opens(tmp_path: Path) -> None:
    with pytest.raises(RemoteError) as raised:
        action(context(tmp_path, {"GITOPS_PRODUCTION_URL": "https://assistant.example.org"}))
    assert str(raised.value) == (
        "GITOPS_PRODUCTION_URL (https://assistant.example.org) and GITOPS_PROMETHEUS_URL (unset) go together: set "
        "both to roll out to that production, or neither to rehearse on this machine")
    assert not (tmp_path / "work").exists()


def test_with_both_urls_the_window_opens_on_task_6_1s_baseline_and_nothing_is_started(tmp_path: Path) -> None:
    (tmp_path / "work" / "6.1").mkdir(parents=True)
    (tmp_path / "work" / "6.1" / "evidence.json").write_text(json.dumps({"baseline": {}}))
    settings = {"GITOPS_PRODUCTION_URL": "https://assistant.example.org",
                "GITOPS_PROMETHEUS_URL": "https://prometheus.example.org"}
    assert action(context(tmp_path, settings)) == {}
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["6.1", "6.2"]
    assert not (tmp_path / ".gitops").exists()  # no stack, no credentials: the evaluation pushes, later
