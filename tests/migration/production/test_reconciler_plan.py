"""The reconciler's plan, pure: start what is new, changed or dead; stop what is replaced or undeclared."""
from __future__ import annotations

from pathlib import Path

from migration.production.reconciler import plan
from migration.production.releases import Instance
from migration.production.spec import parse
from migration.production.stack import Service, State
from tests.conftest import ROOT

SPEC = parse((ROOT / "deploy" / "production.yaml").read_text(encoding="utf-8"), Path("deploy/production.yaml"))
STABLE = Instance("stable", "production", (), 9001, 101)
CANARY = Instance("canary", "candidate", (), 9002, 102)


def running(**weights: int) -> State:
    return State(Service(1, 8080), Service(2, 9090), {"stable": STABLE, "canary": CANARY}, weights, "g")


def test_nothing_to_do_when_production_matches() -> None:
    assert plan(SPEC, running(stable=100, canary=0), lambda i: True).empty


def test_a_new_weight_changes_only_the_proxy() -> None:
    todo = plan(SPEC.with_weights({"stable": 90, "canary": 10}), running(stable=100, canary=0), lambda i: True)
    assert (todo.start, todo.stop, dict(todo.weights), todo.proxy_changes) == ((), (), {"stable": 90, "canary": 10}, True)


def test_a_changed_env_replaces_the_release() -> None:
    spec = SPEC.with_env("canary", {"GITOPS_FAULT": "error=0.5"})
    todo = plan(spec, running(stable=100, canary=0), lambda i: True)
    assert [r.name for r in todo.start] == ["canary"] and todo.stop == (CANARY,)


def test_a_dead_release_is_started_again_and_an_undeclared_one_stopped() -> None:
    todo = plan(SPEC.without("canary").with_weights({"stable": 100}), running(stable=100, canary=0),
                lambda i: i.name != "stable")
    assert [r.name for r in todo.start] == ["stable"] and todo.stop == (STABLE, CANARY)


def test_from_nothing_everything_starts() -> None:
    todo = plan(SPEC, State(), lambda i: True)
    assert [r.name for r in todo.start] == ["stable", "canary"] and todo.proxy_changes
