"""Task 6.2 with a configured production: not built yet, and said before anything is started on the runner."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitops.handlers import TaskContext
from gitops.tasklist import parser
from migration.tasks.t6_2_post_deployment_validation import action
from tests.conftest import ROOT


def test_a_configured_production_is_not_validated_on_the_runner(tmp_path: Path) -> None:
    tasklist, _ = parser.load(ROOT / "migration" / "B-1006.md")
    ctx = TaskContext(tasklist.tasks["6.2"], tmp_path, tmp_path / "work", 1,
                      {"GITOPS_PRODUCTION_URL": "https://assistant.example.org"}, {}, lambda m: None)
    with pytest.raises(RuntimeError) as raised:
        action(ctx)
    assert str(raised.value) == (
        "GITOPS_PRODUCTION_URL is set (https://assistant.example.org): Task 6.2 validates only the embedded stack "
        "on this machine so far; a production elsewhere is watched by its own Prometheus (deploy/alerts.yml) and "
        "its follower's report (docs/production.md, A production elsewhere). Unset it (and GITOPS_PROMETHEUS_URL) "
        "to rehearse here.")
    assert not (tmp_path / "work").exists()
