"""Task 6.1 with a configured production: both of its URLs, or the handler says so before it builds, starts or
pushes anything (with both it rolls out there: test_t6_1_remote_production_e2e.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitops.handlers import TaskContext
from gitops.tasklist import parser
from migration.production.remote import RemoteError
from migration.tasks.t6_1_production_rollout import action
from tests.conftest import ROOT


def test_a_production_url_without_its_prometheus_is_refused_with_what_to_do(tmp_path: Path) -> None:
    tasklist, _ = parser.load(ROOT / "migration" / "B-1006.md")
    ctx = TaskContext(tasklist.tasks["6.1"], tmp_path, tmp_path / "work", 1,
                      {"GITOPS_PRODUCTION_URL": "https://assistant.example.org"}, {}, lambda m: None)
    with pytest.raises(RemoteError) as raised:
        action(ctx)
    assert str(raised.value) == (
        "GITOPS_PRODUCTION_URL (https://assistant.example.org) and GITOPS_PROMETHEUS_URL (unset) go together: set "
        "both to roll out to that production, or neither to rehearse on this machine")
    assert not (tmp_path / "work").exists()  # nothing was built, started or pushed
