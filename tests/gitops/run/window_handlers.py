"""Handlers with a time window, for the runner and command tests (referenced as "module:attribute")."""
from __future__ import annotations

import json

from gitops.handlers import Check, Handler, TaskContext, Window

HOUR = 3600.0


def _mark(ctx: TaskContext, name: str) -> None:
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    with (ctx.workdir / "calls.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps(name) + "\n")


def start(ctx: TaskContext) -> dict:
    _mark(ctx, "action")
    return {"performance_metrics": {"opened": 1.0}}


def measure(ctx: TaskContext) -> dict:
    _mark(ctx, "evaluate")
    return {"performance_metrics": {"window_error_rate": 0.0}}


def calls(ctx: TaskContext) -> list[str]:
    path = ctx.workdir / "calls.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def length(ctx: TaskContext) -> float:
    """A day where windows are scheduled, 2 s in the run."""
    return 24 * HOUR if ctx.scheduled_windows else 2.0


def evaluated(ctx: TaskContext) -> Check:
    return (Check.passed if calls(ctx)[-1:] == ["evaluate"] else Check.failed)(f"calls: {calls(ctx)}")


def error_rate(ctx: TaskContext) -> Check:
    return Check.failed("error rate 0.3 over the window", error_rate=0.3)


WATCHED = Handler(action=start, checks={"criterion 1": evaluated}, window=Window(length, measure))
FAILING = Handler(action=start, checks={"criterion 1": error_rate}, window=Window(length, measure))


def drill(ctx: TaskContext) -> dict:
    """An evaluation that drills an alert, as Task 6.2's does: its issue opened, then resolved."""
    ctx.incidents.open_issue("alert:Drill:v2", "Drill: v2", "it fires", ["incident", "production"])
    ctx.incidents.close_issue("alert:Drill:v2", "resolved: it no longer fires")
    return measure(ctx)


DRILLED = Handler(action=start, checks={"criterion 1": evaluated}, window=Window(length, drill))
