"""Task 6.2's sequence on running production: a validation window, then an alert drill.

The window replays the devset for a while and measures what clients saw and what Prometheus
recorded (p50, p95, p99 and the 5xx share of the serving release). Beside production, at weight
0 (no proxy traffic, a commit like any declaration), runs a reference release (the stable one of
deploy/production.yaml): the same generator alternates each question between the proxy and the
reference, so both are measured under the same machine load (latency.py says why). The drill declares the serving
release with an injected fault for a moment (a commit), waits for Prometheus to report the
alert firing, opens a forge issue for it, declares the release healthy again, and waits for the
alert to resolve and closes the issue.

Where the reference is reached is the caller's `route`: on the machine that runs the stack,
straight at its port (`direct`: nginx's overhead then counts against production, never for it);
on a production seen only through its URL, through the proxy by name (`by_name`,
render.RELEASE_HEADER). Prometheus' figures of production cover `span_start` (a scheduled
window's opening) to the end of the measured traffic (span.py), the measured window alone without
one; the reference's, the measured window it ran beside production.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gitops.forge.incidents import IssueWriter
from migration.production import span
from migration.production.analysis import Prometheus
from migration.production.deployment import Production
from migration.production.faults import FAULT_VARIABLE
from migration.production.incidents import close_resolved, firing, open_issues
from migration.production.loadgen import LoadGenerator, Record, devset_questions, save, summarize
from migration.production.render import RELEASE_HEADER
from migration.production.spec import Release, Spec

ALERT = "AssistantHighErrorRate"
DRILL_FAULT = "error=0.5"
# Traffic before the window counts: a release just started answers its first requests slower
# (lazy imports, cold caches), which would flatter production against a cold reference.
WARMUP_SECONDS = 5.0


@dataclass(frozen=True)
class Route:
    """Where the reference's requests go, and the headers they carry."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)


def direct(production: Production, name: str) -> Route:
    """Straight at the release's own port: only where the stack runs on this machine."""
    return Route(f"http://{production.instances()[name]}")


def by_name(production: Production, name: str) -> Route:
    """Through the proxy, the release named in a header (render.py): all a production elsewhere offers."""
    return Route(production.urls()[0], {RELEASE_HEADER: name})


def _wait_for(predicate: Callable[[], bool], timeout: float, step: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def _of(records: list[Record], target: str) -> list[Record]:
    return [r for r in records if r.target == target]


def validate(spec: Spec, production: Production, forge: IssueWriter, workdir: Path, window_seconds: float,
             reference: Release, rate: float = 10.0, log: Callable[[str], None] = print,
             route: Callable[[Production, str], Route] = direct, span_start: float | None = None,
             wall: Callable[[], float] = time.time) -> dict[str, Any]:
    """Window (beside `reference` at weight 0) then drill; returns the evidence (client records under `workdir`).
    `span_start`: Unix seconds from which Prometheus' figures are read (default: the measured window's start)."""
    serving = max(spec.releases, key=lambda r: r.weight).name
    if reference.name == serving:
        raise RuntimeError(f"the latency reference {reference.name!r} is the release serving production: declare "
                           f"the rollout's stable release in deploy/production.yaml (rollout.stable)")
    beside = spec.with_release(replace(reference, weight=0, env=()))
    production.apply(beside, f"validation: {reference.name} beside production at weight 0, the latency reference")
    proxy, prometheus_url = production.urls()
    prometheus = Prometheus(prometheus_url)
    to = route(production, reference.name)
    evidence: dict[str, Any] = {"serving": serving, "window_seconds": window_seconds, "prometheus": prometheus.url,
                                "reference": {"release": reference.name, "environment": reference.environment,
                                              "url": to.url, "headers": dict(to.headers)}}
    # Twice the rate: every second request goes to the reference, production keeps `rate`.
    with LoadGenerator(proxy, devset_questions(), 2 * rate, reference=to.url, reference_headers=to.headers) as load:
        time.sleep(WARMUP_SECONDS)
        window_began, window_wall = load.now(), wall()
        time.sleep(window_seconds)
        window = load.since(window_began)
        window_end = wall()
        load.reference = None  # the drill's traffic all goes through the proxy
        evidence["load_average"] = round(os.getloadavg()[0], 2)
        evidence["window_clients"] = summarize(_of(window, "production")) | {"load_average": evidence["load_average"]}
        evidence["window_reference"] = summarize(_of(window, "reference"))
        # Prometheus' view of production over the whole span (the drill after it is not counted against
        # it); of the reference over the measured window alone, its warm-up excluded as the clients' is.
        over = span.per_release(prometheus, [serving], span_start or window_wall, window_end)
        evidence["span"] = over | {"scheduled": span_start is not None}
        evidence["window_server"] = over["releases"][serving]
        evidence["reference_server"] = span.figures(prometheus, reference.name, window_wall, window_end)
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
