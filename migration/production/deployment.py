"""Task 6.1's deployment as one sequence: baseline, rollback rehearsal, real rollout, contract.

Production starts as deploy/production.yaml declares it (stable at 100%). Under steady traffic:
a baseline of the stable release; a rehearsal in which the canary carries an injected fault and
the analysis must roll it back on its own; the canary without the fault; the real rollout to
100% with stable retired; the contract through the proxy. Each declaration is a commit
(`history.GitHistory`) and is converged by the reconciler; the figures go to a JSON record.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from migration.production import reconciler, rollout
from migration.production.analysis import Prometheus, measure
from migration.production.contract import check as contract_check
from migration.production.faults import FAULT_VARIABLE
from migration.production.history import GitHistory
from migration.production.loadgen import LoadGenerator, agreement, devset_questions, save, summarize
from migration.production.spec import Spec, dump
from migration.production.stack import State


@dataclass(frozen=True)
class Drill:
    """How the deployment is exercised: traffic rate, the rehearsal's fault, and its failure budget."""

    # Requests a second through the proxy: at the first step's 10% the canary gets 2 a second, so
    # the analysis' min_requests (15) are there from its fourth measurement (7.5 s into the step) on.
    rate: float = 20.0
    baseline_seconds: float = 6.0
    fault: str = "error=0.5"  # the rehearsal canary fails every second request
    # Failed client requests the rehearsal may cost: the faulty canary's share of failures during
    # `exposure_budget` seconds at the first step's weight. A rollback slower than that, or none,
    # costs more.
    exposure_budget: float = 15.0

    def failure_budget(self, weight: int) -> int:
        share = float(self.fault.split("error=", 1)[1].split(",", 1)[0]) if "error=" in self.fault else 0.0
        return math.ceil(self.rate * weight / 100 * share * self.exposure_budget)


@dataclass
class LocalProduction:
    """Declares a spec (a commit of deploy/production.yaml) and reconciles the local stack to it."""

    root: Path
    folder: Path
    environ: Mapping[str, str]
    history: GitHistory | None
    log: Callable[[str], None] = print
    state: State | None = None
    declarations: list[dict[str, Any]] = field(default_factory=list)

    def apply(self, spec: Spec, message: str) -> None:
        commit = self.history.record(dump(spec), message) if self.history else None
        began = time.monotonic()
        self.state = reconciler.reconcile(spec, self.root, self.folder, self.environ, self.log)
        self.declarations.append({"message": message, "commit": commit, "weights": spec.weights(),
                                  "converged_seconds": round(time.monotonic() - began, 3)})

    def instances(self) -> dict[str, str]:
        assert self.state is not None
        return {n: f"127.0.0.1:{i.port}" for n, i in self.state.releases.items()}

    def urls(self) -> tuple[str, str]:
        """The proxy's and Prometheus' URLs, once applied."""
        assert self.state is not None and self.state.proxy and self.state.prometheus
        return self.state.proxy.url, self.state.prometheus.url


class Production(rollout.Production, Protocol):
    """What the sequence needs of a production: declare and converge, its instances, its two URLs."""

    declarations: list[dict[str, Any]]
    history: GitHistory | None

    def instances(self) -> dict[str, str]: ...

    def urls(self) -> tuple[str, str]: ...


def deploy(spec: Spec, production: Production, workdir: Path, drill: Drill = Drill(),
           log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole sequence; returns the evidence (also the client records under `workdir`)."""
    production.apply(spec, "declare production as checked in")
    proxy, prometheus_url = production.urls()
    prometheus = Prometheus(prometheus_url)
    questions = devset_questions()
    evidence: dict[str, Any] = {"proxy": proxy, "prometheus": prometheus.url, "drill": asdict(drill)}
    reference: dict[str, str] = {}

    def measure_since(began: float) -> Any:
        share = lambda: agreement(load.since(began), reference, spec.canary)[0]  # noqa: E731
        return measure(prometheus, spec.canary, spec.stable, spec.analysis, share, production.instances())

    with LoadGenerator(proxy, questions, drill.rate) as load:
        time.sleep(drill.baseline_seconds)
        baseline = load.since(0.0)
        reference.update({r.question: r.answer for r in baseline if r.status == 200 and r.release == spec.stable})
        # The machine's load then: latencies measured minutes apart compare only on a machine as busy.
        evidence["baseline"] = summarize(baseline) | {"load_average": round(os.getloadavg()[0], 2)}

        faulty = spec.with_env(spec.canary, {FAULT_VARIABLE: drill.fault})
        production.apply(faulty, f"rehearsal: {spec.canary} with an injected fault ({drill.fault})")
        began = load.now()
        rehearsal = rollout.rollout(faulty, production, load, measure_since, retire=False, label="rehearsal", log=log)
        time.sleep(1.0)  # requests in flight at the rollback come back
        records = load.since(began)
        cutoff = rehearsal.rolled_back_at if rehearsal.rolled_back_at is not None else math.inf
        after_rollback = [r for r in records if r.release == spec.canary and r.at > cutoff]
        evidence["rehearsal"] = rehearsal.as_dict() | {
            "clients": summarize(records), "budget": drill.failure_budget(spec.steps[0].weight),
            "canary_answers_after_rollback": len(after_rollback)}

        healed = (rehearsal.spec or faulty).with_env(spec.canary, {})
        production.apply(healed, f"rehearsal over: {spec.canary} without the fault")
        began = load.now()
        real = rollout.rollout(healed, production, load, measure_since, label="rollout", log=log)
        time.sleep(2.0)
        evidence["rollout"] = real.as_dict() | {"clients": summarize(load.since(began))}
        final_began = load.now()
        time.sleep(2.0)
        evidence["after"] = summarize(load.since(final_began))
    save(load.records, workdir / "clients.jsonl")
    evidence["contract"] = [vars(r) for r in contract_check(proxy, questions, reference)]
    evidence["reference"] = reference
    evidence["declarations"] = production.declarations
    evidence["history"] = production.history.log() if production.history else []
    return evidence
