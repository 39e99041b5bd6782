"""uv against pip: when a measurement is taken, reused or skipped (the real one runs in Task 1.1)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from migration.environments import install_timing
from migration.environments.environment import Environment, Setup, SetupError

MEASURED = {"scope": "full", "what": "the candidate's requirements.lock (3 packages)", "packages": 3, "uv_seconds": 15.0,
            "pip_seconds": 60.0, "uv_measured": "the candidate's own sync", "uv_cache_warm": True, "ratio": 4.0}


def setup(reused: bool = False, **counts: int) -> Setup:
    return Setup("candidate", "3.0.1", reused, 20.0, 15.0, counts)


@pytest.fixture
def candidate(tmp_path: Path) -> Environment:
    env = Environment("candidate", tmp_path, {})
    env.path.mkdir(parents=True)
    env.lock.write_text("a==1\nb==2\nc==3\n")
    return env


def test_off_measures_nothing_and_an_unknown_scope_says_what_is_allowed(candidate, tmp_path):
    assert install_timing.compare(candidate, setup(), "off", tmp_path / "scratch") is None
    with pytest.raises(SetupError, match=r"GITOPS_PIP_BASELINE='fast': use one of full, dspy, off\."):
        install_timing.compare(candidate, setup(), "fast", tmp_path / "scratch")
    assert not (tmp_path / "scratch").exists()


def test_a_measurement_of_the_same_lock_is_reused(candidate, tmp_path):
    record = {"key": install_timing.record_key("full", candidate.lock), "comparison": MEASURED}
    (candidate.path.parent / install_timing.RECORD).write_text(json.dumps(record))
    found = install_timing.compare(candidate, setup(reused=True), "full", tmp_path / "scratch")
    assert found is not None and found.as_dict() == MEASURED
    assert not (tmp_path / "scratch").exists()  # nothing was installed


def test_a_new_lock_invalidates_the_stored_measurement(candidate):
    key = install_timing.record_key("full", candidate.lock)
    candidate.lock.write_text("a==1\nb==2\nc==4\n")
    assert install_timing.record_key("full", candidate.lock) != key
    assert install_timing.record_key("dspy", candidate.lock) != install_timing.record_key("full", candidate.lock)


@pytest.mark.parametrize(
    "made, stands",
    [
        (setup(installed=3, prepared=0), True),  # fresh, warm, everything installed by the sync
        (setup(installed=3, prepared=2), False),  # cold cache: downloads in the number
        (setup(installed=1, prepared=0), False),  # an existing venv only topped up
        (setup(reused=True, prepared=0), False),  # nothing installed this run
    ],
)
def test_the_candidates_own_sync_stands_for_uv_only_when_fresh_warm_and_complete(made, stands):
    assert install_timing.sync_stands_for_uv(made, packages=3) is stands
