"""Task 6.2's sequence on running production: a validation window, then an alert drill.

The window replays the devset for a while and measures what clients saw and what Prometheus
recorded (p50, p95, p99 and the 5xx share of the serving release). Beside production, at weight
0 (no proxy traffic, a commit like any declaration), runs a reference release (the stable one of
deploy/production.yaml): the same generator alternates each question between the proxy and the
reference, so both are measured under the same machine load (latency.py says why). The drill declares the serving
release with an injected fault for a moment (a commit), waits for Prometheus to report the
alert firing, opens a forge issue for it, declares the release healthy again, and waits for the
alert to resolve and closes the issue.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from migration.production.analysis import Prometheus, error_rate_query, window_text
from migration.production.deployment import LocalProduction
from migration.production.faults import FAULT_VARIABLE
from migration.production.incidents import IssueForge, close_resolved, firing, open_issues
from migration.production.loadgen import LoadGenerator, Record, devset_questions, save, summarize
from migration.production.spec import Release, Spec

ALERT = "AssistantHighErrorRate"
DRILL_FAULT = "error=0.5"
# Traffic before the window counts: a release just started answers its first requests slower
# (lazy imports, cold caches), which would flatter production against a cold reference.
WARMUP_SECONDS = 5.0


def quantile_query(q: float, release: str, window: str) -> str:
    return (f"histogram_quantile({q}, sum by (le) "
            f'(rate(assistant_request_seconds_bucket{{release="{release}"}}[{window}])))')


def server_side(prometheus: Prometheus, release: str, seconds: float) -> dict[str, float | None]:
    """What Prometheus recorded over the last `seconds`: the serving release's quantiles and 5xx share."""
    window = window_text(seconds)
    out: dict[str, float | None] = {}
    for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
        value = prometheus.scalar(quantile_query(q, release, window))
        out[name] = None if value is None else round(value * 1000, 2)
    rate = prometheus.scalar(error_rate_query(release, window))
    out["error_rate"] = None if rate is None else round(rate, 4)
    return out


def _wait_for(predicate: Callable[[], bool], timeout: float, step: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def _of(records: list[Record], target: str) -> list[Record]:
    return [r for r in records if r.target == target]


def validate(spec: Spec, production: LocalProduction, forge: IssueForge, workdir: Path, window_seconds: float,
             reference: Release, rate: float = 10.0, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Window (beside `reference` at weight 0) then drill; returns the evidence (client records under `workdir`)."""
    serving = max(spec.releases, key=lambda r: r.weight).name
    if reference.name == serving:
        raise RuntimeError(f"the latency reference {reference.name!r} is the release serving production: declare "
                           f"the rollout's stable release in deploy/production.yaml (rollout.stable)")
    beside = spec.with_release(replace(reference, weight=0, env=()))
    production.apply(beside, f"validation: {reference.name} beside production at weight 0, the latency reference")
    assert production.state is not None and production.state.proxy and production.state.prometheus
    prometheus = Prometheus(production.state.prometheus.url)
    reference_url = f"http://{production.instances()[reference.name]}"
    evidence: dict[str, Any] = {"serving": serving, "window_seconds": window_seconds, "prometheus": prometheus.url,
                                "reference": {"release": reference.name, "environment": reference.environment,
                                              "url": reference_url}}
    # Twice the rate: every second request goes to the reference, production keeps `rate`.
    with LoadGenerator(production.state.proxy.url, devset_questions(), 2 * rate, reference=reference_url) as load:
        time.sleep(WARMUP_SECONDS)
        window_began = load.now()
        time.sleep(window_seconds)
        window = load.since(window_began)
        load.reference = None  # the drill's traffic all goes through the proxy
        evidence["load_average"] = round(os.getloadavg()[0], 2)
        evidence["window_clients"] = summarize(_of(window, "production")) | {"load_average": evidence["load_average"]}
        evidence["window_reference"] = summarize(_of(window, "reference"))
        evidence["window_server"] = server_side(prometheus, serving, window_seconds)
        evidence["reference_server"] = server_side(prometheus, reference.name, window_seconds)
        log(f"validation window: production {evidence['window_clients']}; reference {evidence['window_reference']}")
        production.apply(spec, f"validation window over: the reference {reference.name} retired")

        drill_began, began = load.now(), time.monotonic()
        production.apply(spec.with_env(serving, {FAULT_VARIABLE: DRILL_FAULT}),
                         f"alert drill: {serving} with an injected fault ({DRILL_FAULT})")
        fired = _wait_for(lambda: any(a.name == ALERT for a in firing(prometheus.alerts())), 90)
        alerts = [a for a in firing(prometheus.alerts()) if a.name == ALERT]
        evidence["fired"] = fired
        evidence["fired_after_seconds"] = round(time.monotonic() - began, 1)
        evidence["issues"] = open_issues(alerts, forge, prometheus.url)
        production.apply(spec, f"alert drill over: {serving} without the fault")
        healed = time.monotonic()
        resolved = _wait_for(lambda: not any(a.name == ALERT for a in firing(prometheus.alerts())), 120)
        evidence["resolved"] = resolved
        evidence["resolved_after_seconds"] = round(time.monotonic() - healed, 1)
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        evidence["closed"] = close_resolved(evidence["issues"], firing(prometheus.alerts()), forge, stamp)
        evidence["drill_clients"] = summarize(_of(load.since(drill_began), "production"))
        log(f"alert drill: fired {fired} after {evidence['fired_after_seconds']} s, resolved {resolved} "
            f"{evidence['resolved_after_seconds']} s after the fault was removed")
    save(load.records, workdir / "clients.jsonl")
    evidence["history"] = production.history.log() if production.history else []
    return evidence
