"""A gradual rollout driven by deploy/production.yaml's steps, judged by the analysis, rolled back on its own.

Each step declares new weights (a commit) and converges production to them; the analysis runs
while the step's traffic flows (Argo's background analysis), then the rest of the pause passes.
A failed analysis declares stable at 100% at once (a commit too) and converges: the time from the
verdict to the proxy serving the new weights is the rollback's measured time.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from migration.production.analysis import AnalysisRun, Measurement, run_analysis
from migration.production.loadgen import LoadGenerator, summarize
from migration.production.spec import Spec


class Production(Protocol):
    """Declares a spec (commits it) and converges the running production to it."""

    def apply(self, spec: Spec, message: str) -> None: ...


@dataclass(frozen=True)
class StepOutcome:
    weight: int
    seconds: float
    clients: dict[str, Any]
    analysis: dict[str, Any] | None


@dataclass
class RolloutOutcome:
    promoted: bool = False
    steps: list[StepOutcome] = field(default_factory=list)
    reason: str = ""
    rollback_seconds: float | None = None  # verdict -> proxy serving stable at 100%
    rolled_back_at: float | None = None  # on the load generator's clock: no request sent later may reach the canary
    spec: Spec | None = None  # what production is declared as at the end

    def as_dict(self) -> dict[str, Any]:
        return {"promoted": self.promoted, "reason": self.reason, "rollback_seconds": self.rollback_seconds,
                "rolled_back_at": self.rolled_back_at,
                "steps": [asdict(s) for s in self.steps]}


def rollout(spec: Spec, production: Production, load: LoadGenerator,
            measure_once: Callable[[float], list[Measurement]], *, retire: bool = True,
            label: str = "rollout", log: Callable[[str], None] = print,
            sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> RolloutOutcome:
    """Walk `spec.steps`; `measure_once(step_began)` measures the canary since that moment."""
    outcome = RolloutOutcome()
    current, canary, stable = spec, spec.canary, spec.stable
    for number, step in enumerate(spec.steps, start=1):
        current = current.with_weights({canary: step.weight, stable: 100 - step.weight})
        production.apply(current, f"{label} step {number}/{len(spec.steps)}: {canary} at {step.weight}%")
        began, began_clock = load.now(), clock()
        run: AnalysisRun | None = None
        if step.analysis:
            run = run_analysis(lambda: measure_once(began), spec.analysis, sleep)
        if run is None or run.passed:
            sleep(max(0.0, step.pause - (clock() - began_clock)))
        outcome.steps.append(StepOutcome(step.weight, round(clock() - began_clock, 2), summarize(load.since(began)),
                                         run.as_dict() if run else None))
        log(f"{label}: {canary} at {step.weight}%: {run.reason if run else 'no analysis'}")
        if run is not None and not run.passed:
            verdict = clock()
            current = current.with_weights({canary: 0, stable: 100})
            production.apply(current, f"{label} rollback: analysis failed with {canary} at {step.weight}% ({run.reason})")
            outcome.rollback_seconds = round(clock() - verdict, 3)
            outcome.rolled_back_at = load.now()
            outcome.reason = f"rolled back at {step.weight}%: {run.reason}"
            outcome.spec = current
            log(f"{label}: rolled back to {stable} at 100% in {outcome.rollback_seconds} s")
            return outcome
    if retire and current.release(stable) is not None:
        current = current.without(stable)
        production.apply(current, f"{label} complete: {canary} serves 100%, {stable} retired")
    outcome.promoted, outcome.reason, outcome.spec = True, f"{canary} promoted to 100%", current
    return outcome
