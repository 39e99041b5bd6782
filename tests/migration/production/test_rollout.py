"""The rollout driver with fakes: steps declared in order, a failed analysis declares stable at 100% at once."""
from __future__ import annotations

from pathlib import Path

from migration.production.analysis import Measurement
from migration.production.rollout import rollout
from migration.production.spec import Spec, parse
from tests.conftest import ROOT

SPEC = parse((ROOT / "deploy" / "production.yaml").read_text(encoding="utf-8"), Path("deploy/production.yaml"))


class FakeProduction:
    """Records every declaration (message, weights) instead of committing and reconciling."""

    def __init__(self, clock: FakeClock) -> None:
        self.applied: list[tuple[str, dict[str, int]]] = []
        self.clock = clock

    def apply(self, spec: Spec, message: str) -> None:
        self.applied.append((message, spec.weights()))
        self.clock.now += 0.25  # a reload takes a while


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeLoad:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def now(self) -> float:
        return self.clock.now

    def since(self, at: float) -> list:
        return []


def verdicts(*error_rates: float):
    """One measurement per call, with the next error rate."""
    rates = iter(error_rates)

    def measure_once(began: float) -> list[Measurement]:
        value = next(rates)
        return [Measurement("error_rate", value, 0.02, value <= 0.02, "q")]

    return measure_once


def test_a_healthy_canary_goes_step_by_step_to_100_and_stable_is_retired() -> None:
    clock = FakeClock()
    production = FakeProduction(clock)
    outcome = rollout(SPEC, production, FakeLoad(clock), verdicts(*[0.0] * 15), log=lambda s: None,
                      sleep=clock.sleep, clock=clock)
    assert outcome.promoted and outcome.rollback_seconds is None
    assert production.applied == [
        ("rollout step 1/4: canary at 10%", {"stable": 90, "canary": 10}),
        ("rollout step 2/4: canary at 25%", {"stable": 75, "canary": 25}),
        ("rollout step 3/4: canary at 50%", {"stable": 50, "canary": 50}),
        ("rollout step 4/4: canary at 100%", {"stable": 0, "canary": 100}),
        ("rollout complete: canary serves 100%, stable retired", {"canary": 100}),
    ]
    # An analysed step lasts as long as its 5 measurements 2.5 s apart, longer than its 10 s pause.
    assert [s.seconds for s in outcome.steps] == [12.5, 12.5, 12.5, 5.0]


def test_a_failing_canary_is_rolled_back_at_once_and_the_time_measured() -> None:
    clock = FakeClock()
    production = FakeProduction(clock)
    outcome = rollout(SPEC, production, FakeLoad(clock), verdicts(0.0, 0.5, 0.5), label="rehearsal", log=lambda s: None,
                      sleep=clock.sleep, clock=clock)
    assert not outcome.promoted
    assert production.applied[-1] == (
        "rehearsal rollback: analysis failed with canary at 10% (error_rate=0.5 past 0.02)", {"stable": 100, "canary": 0})
    assert (outcome.rollback_seconds, outcome.reason) == (0.25, "rolled back at 10%: error_rate=0.5 past 0.02")
    assert outcome.spec is not None and outcome.spec.weights() == {"stable": 100, "canary": 0}
    # failure_limit 1: the second failed measurement (the third) decides; the pause is not waited out.
    assert outcome.steps[0].seconds == 7.5
