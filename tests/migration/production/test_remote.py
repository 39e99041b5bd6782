"""Rolling out elsewhere: the settings, the pushes, and waiting for the follower's report (fakes, real git)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from migration.production.analysis import PrometheusError
from migration.production.remote import RemoteError, RemoteHistory, RemoteProduction, Settings
from migration.production.spec import SPEC_PATH
from tests.conftest import ROOT

SETTINGS = Settings("https://assistant.example.org", "https://prometheus.example.org", "origin", "gitops/production")


def test_both_urls_or_neither() -> None:
    with pytest.raises(RemoteError) as raised:
        Settings.from_environ({"GITOPS_PRODUCTION_URL": "https://assistant.example.org"})
    assert str(raised.value) == (
        "GITOPS_PRODUCTION_URL (https://assistant.example.org) and GITOPS_PROMETHEUS_URL (unset) go together: set "
        "both to roll out to that production, or neither to rehearse on this machine")
    assert Settings.from_environ({"GITOPS_PRODUCTION_URL": "https://assistant.example.org/",
                                  "GITOPS_PROMETHEUS_URL": "https://prometheus.example.org"}) == SETTINGS
    assert Settings.from_environ({"GITOPS_PRODUCTION_URL": "u", "GITOPS_PROMETHEUS_URL": "p",
                                  "GITOPS_PRODUCTION_REMOTE": "git@example.org:team/prod.git",
                                  "GITOPS_PRODUCTION_BRANCH": "production"}) == Settings(
        "u", "p", "git@example.org:team/prod.git", "production")


class FakePrometheus:
    """Answers each query with the next of `answers` (a list of rows, or an error)."""

    def __init__(self, answers: dict[str, list]) -> None:
        self.answers = answers
        self.url = "https://prometheus.example.org"

    def query(self, promql: str) -> list:
        key = promql.split("{", 1)[0]
        answer = self.answers[key].pop(0) if len(self.answers[key]) > 1 else self.answers[key][0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def production(prometheus: FakePrometheus, said: list[str], timeout: float = 300.0) -> RemoteProduction:
    clock = Clock()
    return RemoteProduction(SETTINGS, None, prometheus, said.append, timeout, clock,  # type: ignore[arg-type]
                            clock.sleep)


def test_waiting_ends_when_the_follower_applied_the_commit_with_its_instances() -> None:
    fake = FakePrometheus({
        "gitops_production_commit": [PrometheusError("not up yet"), [],
                                     [({"commit": "c1", "outcome": "applying"}, 1.0)],
                                     [({"commit": "c1", "outcome": "applied"}, 1.0)]],
        "gitops_production_release_weight": [[({"release": "canary", "address": "10.0.0.5:9002"}, 10.0),
                                              ({"release": "stable", "address": "10.0.0.5:9001"}, 90.0)]]})
    done = production(fake, []).wait("c1", "step 1")
    assert (done.instances, done.weights) == ({"canary": "10.0.0.5:9002", "stable": "10.0.0.5:9001"},
                                             {"canary": 10, "stable": 90})


def test_a_refused_commit_stops_the_rollout_with_the_followers_reason() -> None:
    fake = FakePrometheus({"gitops_production_commit": [
        [({"commit": "c2abcdef01234567", "outcome": "refused", "reason": "deploy/production.yaml:3: bad"}, 1.0)]]})
    with pytest.raises(RemoteError) as raised:
        production(fake, []).wait("c2abcdef01234567", "step 2")
    assert str(raised.value) == ("production at https://assistant.example.org refused c2abcdef0123 (step 2); the "
                                 "previous declaration keeps serving: deploy/production.yaml:3: bad")


def test_waiting_is_bounded_and_says_how_it_goes() -> None:
    said: list[str] = []
    fake = FakePrometheus({"gitops_production_commit": [[({"commit": "c3", "outcome": "applying"}, 1.0)]]})
    with pytest.raises(RemoteError) as raised:
        production(fake, said, timeout=25).wait("c3", "step 3")
    assert str(raised.value) == ("production at https://assistant.example.org did not apply c3 (step 3) within 25 s "
                                 "(last report: applying); is its follower running on gitops/production of origin?")
    assert said == ["waiting for production at https://assistant.example.org to apply c3 (step 3): applying after "
                    "10 s of 25", "waiting for production at https://assistant.example.org to apply c3 (step 3): "
                    "applying after 20 s of 25"]


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_each_declaration_is_pushed_to_the_followed_branch_and_never_forced(tmp_path: Path) -> None:
    bare, team, other = tmp_path / "production.git", tmp_path / "team", tmp_path / "other"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    (team / "deploy").mkdir(parents=True)
    (team / SPEC_PATH).write_text((ROOT / SPEC_PATH).read_text(encoding="utf-8"), encoding="utf-8")
    git(team, "init", "-q")
    git(team, "add", "-A")
    git(team, "commit", "-qm", "declared")
    history = RemoteHistory(team, str(bare), "gitops/production")
    first = history.record((team / SPEC_PATH).read_text(encoding="utf-8"), "as checked in")
    assert first == git(team, "rev-parse", "HEAD") == git(bare, "rev-parse", "gitops/production")  # branch created
    second = history.record("format: 1\n", "step 1")
    assert git(bare, "log", "--format=%s", "gitops/production") == "step 1\ndeclared"
    assert git(bare, "rev-parse", "gitops/production") == second
    # Someone else moved the branch: the next push fails instead of rewriting production's history.
    git(tmp_path, "clone", "-q", "-b", "gitops/production", str(bare), str(other))
    git(other, "commit", "-q", "--allow-empty", "-m", "elsewhere")
    git(other, "push", "-q")
    with pytest.raises(Exception, match="push"):
        history.record("format: 1\n# step 2\n", "step 2")
    # A new run starts from the branch as it is now.
    assert RemoteHistory(team, str(bare), "gitops/production").tip() == git(bare, "rev-parse", "gitops/production")
