"""Task 6.1 against a production elsewhere (GITOPS_PRODUCTION_URL and GITOPS_PROMETHEUS_URL set).

The same sequence as the rehearsal (migration/production/deployment.py), but every declaration
is a commit pushed to the branch the production follows (migration/production/remote.py), and
the checks look only through the two URLs: the proxy for traffic, `/healthz` (which release and
DSPy answer) and the contract; Prometheus for the releases' labels, the analysis' queries, the
alert rules and the follower's report of the weights it applied. Nothing is built or started here.
"""
from __future__ import annotations

import time
from collections import Counter
from typing import Any

from gitops.handlers import Check, TaskContext
from migration.environments.sides import VERSIONS
from migration.production.analysis import Prometheus, error_rate_query, p95_query
from migration.production.contract import check as contract_check
from migration.production.loadgen import LoadGenerator, devset_questions
from migration.production.push_access import git_environment
from migration.production.releases import get_json
from migration.production.remote import RemoteHistory, RemoteProduction, Settings

HEALTH_SAMPLES = 20  # /healthz through the proxy: weighted round-robin, so 20 calls meet every release above 5%


def production(ctx: TaskContext, doing: str = "rolling out to") -> RemoteProduction:
    """The production of the settings, its history mirroring the followed branch (handed over on GitHub);
    `doing`: what the log says is done to it."""
    settings = Settings.from_environ(ctx.environ)
    handed = ctx.workdir if ctx.environ.get("GITHUB_ACTIONS") == "true" else None
    # The key file lives outside the workdir: the workdir is handed over, a credential never is.
    access = git_environment(ctx.environ, ctx.root / ".gitops" / "credentials")
    history = RemoteHistory(ctx.root, settings.remote, settings.branch, handed, access)
    ctx.log(f"{doing} production at {settings.production_url}: declarations pushed to {settings.branch} "
            f"of {settings.remote}, which its follower applies; observed through {settings.prometheus_url}")
    return RemoteProduction(settings, history, Prometheus(settings.prometheus_url), ctx.log)


def _weights(prometheus: Prometheus) -> dict[str, int]:
    return {m["release"]: int(v) for m, v in prometheus.query("gitops_production_release_weight")}


def _answering(url: str) -> dict[str, Any]:
    """Which release and DSPy answer /healthz through the proxy, and how often."""
    seen: Counter[tuple[str, str]] = Counter()
    for _ in range(HEALTH_SAMPLES):
        try:
            answer = get_json(f"{url}/healthz")
        except (OSError, ValueError):
            seen[("unreachable", "-")] += 1
            continue
        seen[(answer.get("release", "?"), answer.get("dspy", "?"))] += 1
    return {f"{release}={dspy}": n for (release, dspy), n in sorted(seen.items())}


def check_updated(ctx: TaskContext, evidence: dict[str, Any]) -> Check:
    """The proxy serves the 3.0.1 release only: by its answers, its /healthz, the follower and the labels."""
    settings = Settings.from_environ(ctx.environ)
    prometheus = Prometheus(settings.prometheus_url)
    with LoadGenerator(settings.production_url, devset_questions(), 10) as load:
        time.sleep(3)
    served = {(r.release, r.status) for r in load.records}
    health = _answering(settings.production_url)
    weights = _weights(prometheus)
    by_labels = prometheus.query("sum by (release, dspy) (assistant_requests_total)")
    labels = sorted(f"{m.get('release')}={m.get('dspy')}: {v:.0f}" for m, v in by_labels)
    ok = (served == {("canary", 200)} and set(health) == {f"canary={VERSIONS['candidate']}"}
          and weights == {"canary": 100})
    return (Check.passed if ok else Check.failed)(
        f"{evidence.get('where', 'where: not recorded')}: {len(load.records)} requests through the proxy now: "
        f"served by {sorted(served)}; /healthz through the proxy ({HEALTH_SAMPLES} calls): {health}; weights the "
        f"follower applied (Prometheus): {weights}; requests by release=dspy label over the run (Prometheus): "
        f"{'; '.join(labels)}; stable retired: {'stable' not in weights}", requests=len(load.records))


def check_functionality(ctx: TaskContext, evidence: dict[str, Any]) -> Check:
    url = Settings.from_environ(ctx.environ).production_url
    results = contract_check(url, devset_questions(), evidence["reference"])
    failed = [r for r in results if not r.passed]
    text = "; ".join(f"{'ok' if r.passed else 'FAILED'} {r.name}: {r.detail}" for r in results)
    return (Check.passed if not failed else Check.failed)(
        f"the HTTP contract through the proxy {url}: {text}", clauses=len(results), failed=len(failed))


def check_monitoring(ctx: TaskContext) -> Check:
    settings = Settings.from_environ(ctx.environ)
    prometheus = Prometheus(settings.prometheus_url)
    with LoadGenerator(settings.production_url, devset_questions(), 10) as _:
        time.sleep(4)  # two scrapes with traffic: rate() needs two samples in its window
    targets = [(t["labels"].get("deployment"), t["health"]) for t in prometheus.targets()
               if t["labels"].get("job") == "assistant"]
    queries = {"error_rate": error_rate_query("canary", "30s"), "p95_seconds": p95_query("canary", "30s")}
    values = {name: prometheus.scalar(q) for name, q in queries.items()}
    alerts = sorted(prometheus.alert_rules())
    ok = bool(targets) and all(h == "up" for _, h in targets) and all(v is not None for v in values.values()) and alerts
    return (Check.passed if ok else Check.failed)(
        f"Prometheus {prometheus.url}: release targets {targets}; analysis queries now: "
        f"{ {k: (round(v, 4) if v is not None else None) for k, v in values.items()} }; alert rules loaded: {alerts}",
        targets=len(targets))
