"""deploy/production.yaml: the checked-in file loads, dump round-trips, every problem names file:line and the fix."""
from __future__ import annotations

from pathlib import Path

import pytest

from migration.production.spec import SpecError, dump, load, parse
from tests.conftest import ROOT

SPEC = ROOT / "deploy" / "production.yaml"
GOOD = SPEC.read_text(encoding="utf-8")
P = Path("deploy/production.yaml")


def test_the_checked_in_file_is_canonical() -> None:
    spec = load(SPEC)
    assert spec.weights() == {"stable": 100, "canary": 0}
    assert [s.weight for s in spec.steps] == [10, 25, 50, 100]
    assert dump(spec) == GOOD


def test_a_rollout_step_is_a_one_line_diff_per_release() -> None:
    spec = parse(GOOD, P).with_weights({"stable": 90, "canary": 10})
    changed = [(a, b) for a, b in zip(GOOD.splitlines(), dump(spec).splitlines(), strict=True) if a != b]
    assert changed == [("    weight: 100", "    weight: 90"), ("    weight: 0", "    weight: 10")]
    assert parse(dump(spec), P) == spec


def test_a_fault_env_round_trips() -> None:
    spec = parse(GOOD, P).with_env("canary", {"GITOPS_FAULT": "error=0.5"})
    assert parse(dump(spec), P).release("canary").env == (("GITOPS_FAULT", "error=0.5"),)


def test_a_retired_stable_needs_the_canary_at_100() -> None:
    retired = parse(GOOD, P).with_weights({"stable": 0, "canary": 100}).without("stable")
    assert parse(dump(retired), P).weights() == {"canary": 100}


@pytest.mark.parametrize(("old", "new", "message"), [
    ("    weight: 0\n", "    weight: 5\n", "deploy/production.yaml:6: releases: the weights add up to 105, not 100; fix them so that they do"),
    ("  canary: canary\n", "  canary: canry\n", "deploy/production.yaml:14: rollout.canary: 'canry' is not a release; releases: stable, canary"),
    ("  count: 5\n", "  count: 5\n  cuont: 3\n", "deploy/production.yaml:23: analysis: unknown key 'cuont'; allowed: interval, count, failure_limit, window, min_requests, thresholds"),
    ("    - {weight: 25, pause: 10s, analysis: true}\n", "    - {weight: 5, pause: 10s, analysis: true}\n",
     "deploy/production.yaml:17: rollout.steps[1].weight: 5 does not rise above the step before (10); steps go up, e.g. 10, 25, 50, 100"),
    ("pause: 5s", "pause: 5 seconds", "deploy/production.yaml:19: rollout.steps[3].pause must be a duration like 500ms, 20s or 2m, not '5 seconds'"),
    ("    environment: candidate\n", "    environment: staging\n", "deploy/production.yaml:10: releases.canary.environment must be one of production, candidate"),
    ("    max_error_rate: 0.02\n", "    max_error_rate: 2\n", "deploy/production.yaml:27: analysis.thresholds.max_error_rate must be a number from 0 to 1, not 2"),
    ("  stable:\n    environment", "  stable:\n    environment: production\n    environment", "deploy/production.yaml:8: releases.stable: duplicate key 'environment'; keep one"),
    ("format: 1\n", "format: 1\nreleases: [\n", "deploy/production.yaml:7: not valid YAML"),
    ("  failure_limit: 1\n", "  failure_limit: 5\n", "deploy/production.yaml:23: analysis.failure_limit must be an integer from 0 to 4, not 5"),
    ("  min_requests: 15\n", "", "deploy/production.yaml:21: analysis: missing min_requests"),
])
def test_problems_name_file_line_and_fix(old: str, new: str, message: str) -> None:
    assert old in GOOD
    with pytest.raises(SpecError) as caught:
        parse(GOOD.replace(old, new, 1), P)
    assert str(caught.value).startswith(message)


def test_a_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"production.yaml: cannot be read \(No such file or directory\); create it"):
        load(tmp_path / "production.yaml")
