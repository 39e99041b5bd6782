"""A rollback by hand declares the checked-in stable release at 100% and the rest at 0 (pure)."""
from __future__ import annotations

from pathlib import Path

import pytest

from migration.production.manual_rollback import reason_text, rolled_back
from migration.production.spec import SPEC_PATH, load
from tests.conftest import ROOT

CHECKED_IN = load(ROOT / SPEC_PATH)


def test_after_a_completed_rollout_stable_comes_back_at_100_and_the_canary_stays_at_0() -> None:
    after = CHECKED_IN.with_weights({"canary": 100, "stable": 0}).without("stable")
    spec = rolled_back(after, CHECKED_IN)
    assert spec.weights() == {"canary": 0, "stable": 100}
    assert spec.release("stable").environment == "production" and spec.release("stable").env == ()


def test_during_a_faulty_step_the_fault_stays_on_the_canary_and_stable_loses_its_own() -> None:
    during = (CHECKED_IN.with_weights({"canary": 25, "stable": 75}).with_env("canary", {"GITOPS_FAULT": "error=0.5"})
              .with_env("stable", {"GITOPS_FAULT": "delay=1"}))
    spec = rolled_back(during, CHECKED_IN)
    assert spec.weights() == {"canary": 0, "stable": 100}
    assert spec.release("stable").env == () and spec.release("canary").env == (("GITOPS_FAULT", "error=0.5"),)


def test_a_rollback_needs_a_reason() -> None:
    assert reason_text("  p95 doubled\nsince 14:00 ", Path("x")) == "p95 doubled since 14:00"
    with pytest.raises(ValueError, match=r"^x: a rollback needs a reason \(--reason, or GITOPS_ROLLBACK_REASON"):
        reason_text(" \n", Path("x"))
