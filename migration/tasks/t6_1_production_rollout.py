"""Task 6.1: Gradual Production Rollout, for real on a local production or on a configured one.

The action builds (or verifies) Task 1.1's environments, starts production as
deploy/production.yaml declares it (nginx in front of one service per release, Prometheus
scraping them), and under steady devset traffic: records a stable baseline; rehearses a rollback
with a canary that fails every second request (the analysis must roll it back on its own, within
a failure budget); rolls the healthy canary out 10 -> 25 -> 50 -> 100% with an analysis at each
step and retires stable; runs the HTTP contract through the proxy. Every declaration is a commit
of deploy/production.yaml on the branch `gitops/production` (migration/production/history.py), and
on GitHub one on the phase branch too, made by the recording job.
With GITOPS_PRODUCTION_URL and GITOPS_PROMETHEUS_URL set, the same sequence rolls out that
production instead, through git pushes and its two URLs only (t6_1_remote.py).
Production keeps running for Task 6.2; `scripts/production down` stops it. The figures go to
`<workdir>/evidence.json` and `<workdir>/production-report.md`; each check measures again where
it can (the proxy, Prometheus, git) and cites the rehearsal's figures.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitops.handlers import Check, Handler, TaskContext
from gitops.run.deploying import production_url, where
from migration.environments.sides import VERSIONS, ready_environments
from migration.production import releases, stack
from migration.production.analysis import Prometheus, error_rate_query, p95_query
from migration.production.contract import check as contract_check
from migration.production.deployment import Drill, LocalProduction, Production, deploy
from migration.production.history import for_task
from migration.production.loadgen import LoadGenerator, devset_questions
from migration.production.report import write_report
from migration.production.spec import SPEC_PATH, load
from migration.tasks import t6_1_remote as remote

DOC = Path("docs") / "production.md"
DOC_TOPICS = {"declaring production": r"declar|production\.yaml", "starting and stopping it": r"scripts/production|start",
              "the rollout and its analysis": r"rollout|analysis", "rollback": r"rollback",
              "monitoring and alerts": r"monitor|alert", "the figures of a run": r"figure|measured"}


def _evidence(ctx: TaskContext) -> dict[str, Any]:
    return json.loads((ctx.workdir / "evidence.json").read_text(encoding="utf-8"))


def action(ctx: TaskContext) -> Mapping[str, Any]:
    """Baseline, rehearsal, rollout, contract; evidence and report under the workdir."""
    production: Production
    if production_url(ctx.environ):  # elsewhere: pushed commits its follower applies, seen through its URLs
        production = remote.production(ctx)  # both URLs or neither: said before anything is pushed
        spec = load(ctx.root / SPEC_PATH)
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        history = production.history
    else:
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        ready_environments(ctx)
        spec = load(ctx.root / SPEC_PATH)  # a broken file stops here: nothing is started or changed
        history = for_task(ctx.root, ctx.workdir, ctx.environ)  # on GitHub also handed over: the phase PR shows it
        production = LocalProduction(ctx.root, ctx.root / stack.STATE_DIR, ctx.environ, history, ctx.log)
    began = time.monotonic()
    evidence = deploy(spec, production, ctx.workdir, Drill(), ctx.log)
    evidence["seconds"] = round(time.monotonic() - began, 1)
    evidence["committed"] = history is not None
    evidence["where"] = where(ctx.environ)  # on a runner without a configured production: a rehearsal, said so
    (ctx.workdir / "evidence.json").write_text(json.dumps(evidence, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write_report(evidence, ctx.workdir / "production-report.md")
    rehearsal = evidence["rehearsal"]
    ctx.log(f"rehearsal: {rehearsal['reason']}; rollback {rehearsal['rollback_seconds']} s; "
            f"rollout: {evidence['rollout']['reason']}; {evidence['seconds']} s in all")
    return {"rollback_ready": not rehearsal["promoted"] and rehearsal["clients"]["failed"] <= rehearsal["budget"],
            "performance_metrics": {"rollback_seconds": rehearsal["rollback_seconds"] or 0.0,
                                    "baseline_p95_ms": evidence["baseline"]["p95_ms"] or 0.0,
                                    "after_p95_ms": evidence["after"]["p95_ms"] or 0.0}}


def _state(ctx: TaskContext) -> stack.State:
    return stack.load_state(ctx.root / stack.STATE_DIR)


def check_updated(ctx: TaskContext) -> Check:
    """The proxy serves the 3.0.1 release only: asked now, and by the metrics' labels."""
    if production_url(ctx.environ):
        return remote.check_updated(ctx, _evidence(ctx))
    state = _state(ctx)
    if not stack.running(state.proxy) or not stack.running(state.prometheus):
        return Check.failed(f"production is not running (see {ctx.root / stack.STATE_DIR / stack.STATE_FILE})")
    assert state.proxy is not None and state.prometheus is not None
    with LoadGenerator(state.proxy.url, devset_questions(), 10) as load:
        time.sleep(3)
    served = {(r.release, r.status) for r in load.records}
    by_labels = Prometheus(state.prometheus.url).query("sum by (release, dspy) (assistant_requests_total)")
    live = {n: (releases.health(i.port) or {}).get("dspy") for n, i in state.releases.items()}
    labels = sorted(f"{m.get('release')}={m.get('dspy')}: {v:.0f}" for m, v in by_labels)
    ok = (served == {("canary", 200)} and live == {"canary": VERSIONS["candidate"]} and state.weights == {"canary": 100})
    return (Check.passed if ok else Check.failed)(
        f"{_evidence(ctx).get('where', 'where: not recorded')}: "
        f"{len(load.records)} requests through the proxy now: served by {sorted(served)}; running releases and "
        f"their DSPy: {live}; declared weights {state.weights}; requests by release=dspy label over the run "
        f"(Prometheus): {'; '.join(labels)}; stable retired: {'stable' not in state.releases}",
        requests=len(load.records))


def check_functionality(ctx: TaskContext) -> Check:
    if production_url(ctx.environ):
        return remote.check_functionality(ctx, _evidence(ctx))
    state = _state(ctx)
    if not stack.running(state.proxy):
        return Check.failed("the proxy is not running: the contract cannot be checked")
    assert state.proxy is not None
    results = contract_check(state.proxy.url, devset_questions(), _evidence(ctx)["reference"])
    failed = [r for r in results if not r.passed]
    text = "; ".join(f"{'ok' if r.passed else 'FAILED'} {r.name}: {r.detail}" for r in results)
    return (Check.passed if not failed else Check.failed)(
        f"the HTTP contract through the proxy {state.proxy.url}: {text}", clauses=len(results), failed=len(failed))


def check_monitoring(ctx: TaskContext) -> Check:
    if production_url(ctx.environ):
        return remote.check_monitoring(ctx)
    state = _state(ctx)
    if not stack.running(state.prometheus) or not stack.running(state.proxy):
        return Check.failed("Prometheus or the proxy is not running")
    assert state.prometheus is not None and state.proxy is not None
    prometheus = Prometheus(state.prometheus.url)
    with LoadGenerator(state.proxy.url, devset_questions(), 10) as _:
        time.sleep(4)  # two scrapes with traffic: rate() needs two samples in its window
    targets = [(t["labels"].get("deployment"), t["health"]) for t in prometheus.targets()]
    queries = {"error_rate": error_rate_query("canary", "30s"), "p95_seconds": p95_query("canary", "30s")}
    values = {name: prometheus.scalar(q) for name, q in queries.items()}
    alerts = sorted(prometheus.alert_rules())
    ok = bool(targets) and all(h == "up" for _, h in targets) and all(v is not None for v in values.values()) and alerts
    return (Check.passed if ok else Check.failed)(
        f"Prometheus {prometheus.url}: targets {targets}; analysis queries now: "
        f"{ {k: (round(v, 4) if v is not None else None) for k, v in values.items()} }; alert rules loaded: {alerts}",
        targets=len(targets))


def check_rollback(ctx: TaskContext) -> Check:
    evidence = _evidence(ctx)
    rehearsal = evidence["rehearsal"]
    clients = rehearsal["clients"]
    history = evidence["history"]
    committed = [line for line in history if "rollback" in line]
    ok = (not rehearsal["promoted"] and rehearsal["rollback_seconds"] is not None
          and clients["failed"] <= rehearsal["budget"] and rehearsal["canary_answers_after_rollback"] == 0
          and (committed or not evidence["committed"]))
    return (Check.passed if ok else Check.failed)(
        f"rehearsal with a canary injected with {evidence['drill']['fault']}: {rehearsal['reason']}; proxy back at "
        f"100% stable {rehearsal['rollback_seconds']} s after the verdict; no request sent after it reached the "
        f"canary ({rehearsal['canary_answers_after_rollback']} did); clients: {clients['failed']} of "
        f"{clients['requests']} requests failed during the rehearsal, budget {rehearsal['budget']} "
        f"({evidence['drill']['rate']:g} req/s x the first step's weight x the fault's share x "
        f"{evidence['drill']['exposure_budget']:g} s); commits: "
        f"{committed if evidence['committed'] else 'none (not a git checkout)'}",
        rollback_seconds=rehearsal["rollback_seconds"], failed_requests=clients["failed"], budget=rehearsal["budget"])


def check_documented(ctx: TaskContext) -> Check:
    doc = ctx.root / DOC
    if not doc.exists():
        return Check.failed(f"{DOC} does not exist")
    headings = [line for line in doc.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    missing = [t for t, pattern in DOC_TOPICS.items() if not any(re.search(pattern, h, re.I) for h in headings)]
    report = ctx.workdir / "production-report.md"
    ok = not missing and report.exists()
    return (Check.passed if ok else Check.failed)(
        f"{DOC}: {len(headings)} headings, topics missing: {missing or 'none'}; this run's figures: "
        f"{report if report.exists() else 'MISSING'}", headings=len(headings))


HANDLER = Handler(
    action=action,
    checks={
        "Production environment updated with DSPy 3.0": check_updated,
        "All existing functionality working correctly": check_functionality,
        "Performance monitoring active": check_monitoring,
        "Rollback procedures tested and ready": check_rollback,
        "Production deployment documented": check_documented,
    },
)
