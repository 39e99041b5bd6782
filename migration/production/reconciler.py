"""Make running production match deploy/production.yaml: plan (pure), then apply.

Order matters for "no request dropped": new or changed releases start first and must pass their
health check (a failing one is stopped and the proxy is not touched); then the proxy is validated
and reloaded with the new weights; only then are replaced or undeclared releases stopped, when no
new request can reach them. Prometheus learns about a release before it gets traffic and forgets
it after it is gone.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from migration.production import releases, render, stack
from migration.production.releases import Instance
from migration.production.spec import Release, Spec
from migration.production.tools import ensure

TOOLS = ("nginx", "prometheus", "promtool")


@dataclass(frozen=True)
class Plan:
    """What differs: releases to start (new or changed), instances to stop, the weights to serve."""

    start: tuple[Release, ...]
    stop: tuple[Instance, ...]
    weights: Mapping[str, int]
    proxy_changes: bool

    @property
    def empty(self) -> bool:
        return not self.start and not self.stop and not self.proxy_changes


def plan(spec: Spec, state: stack.State, alive: Callable[[Instance], bool]) -> Plan:
    """The actions that turn `state` into `spec` (`alive` tells a running instance from a dead one)."""
    start: list[Release] = []
    stop: list[Instance] = []
    for release in spec.releases:
        current = state.releases.get(release.name)
        if current is None or not alive(current) or not current.serves(release):
            start.append(release)
            if current is not None:
                stop.append(current)
    declared = {r.name for r in spec.releases}
    stop += [i for n, i in sorted(state.releases.items()) if n not in declared]
    weights = spec.weights()
    return Plan(tuple(start), tuple(stop), weights, bool(start) or weights != state.weights or state.proxy is None)


def reconcile(spec: Spec, root: Path, folder: Path, environ: Mapping[str, str],
              log: Callable[[str], None] = print, ports: stack.Ports = stack.Ports()) -> stack.State:
    """Converge the running stack to `spec`; returns what runs now (also saved in stack.json).

    `ports`: where the proxy and Prometheus listen when they start; free ones unless fixed.
    """
    tools = ensure(TOOLS, environ, log)
    folder.mkdir(parents=True, exist_ok=True)
    state = stack.load_state(folder)
    if not stack.running(state.prometheus):
        state.prometheus = stack.start_prometheus(folder, root, tools, environ, ports.prometheus)
        log(f"prometheus: {state.prometheus.url}")
    if not stack.running(state.proxy):
        state.proxy, state.generation = None, None
    todo = plan(spec, state, lambda i: releases.health(i.port) is not None)
    if todo.empty:
        stack.save_state(folder, state)
        return state
    started: dict[str, Instance] = {}
    try:
        for release in todo.start:
            started[release.name] = releases.start(release, root, folder, environ)
            log(f"release {release.name} ({release.environment}) healthy on :{started[release.name].port}")
    except releases.ReleaseError:
        for instance in started.values():
            releases.stop(instance)
        raise
    retiring = [i for i in todo.stop]
    serving = {**{n: i for n, i in state.releases.items() if i not in retiring}, **started}
    stack.write_targets(folder, {n: i.port for n, i in serving.items()} | {i.name + "-old": i.port for i in retiring})
    upstreams = {n: (serving[n].port, w) for n, w in todo.weights.items()}
    port = state.proxy.port if state.proxy else ports.proxy or releases.free_port()
    text = render.nginx_conf(folder, port, upstreams)
    try:
        state.proxy = stack.apply_proxy(folder, tools["nginx"], state.proxy, text, environ)
    except stack.StackError:
        for instance in started.values():
            releases.stop(instance)
        raise
    state.generation, state.weights = render.generation_of(text), dict(todo.weights)
    for instance in retiring:
        releases.stop(instance)
        log(f"release {instance.name} on :{instance.port} stopped")
    state.releases = serving
    stack.write_targets(folder, {n: i.port for n, i in serving.items()})
    stack.save_state(folder, state)
    log(f"proxy {state.proxy.url} serves {dict(todo.weights)} (generation {state.generation})")
    return state


def down(folder: Path, log: Callable[[str], None] = print) -> None:
    """Stop the proxy first (no new requests), then the releases, then Prometheus."""
    state = stack.load_state(folder)
    stack.stop_service(state.proxy)
    for instance in state.releases.values():
        releases.stop(instance)
    stack.stop_service(state.prometheus)
    stack.save_state(folder, stack.State())
    log(f"production under {folder} stopped")
