"""Handlers for test_task_env.py; they run in a child process, so they live in a module of their own."""
from __future__ import annotations

import os

from gitops.handlers import Check, Handler


def _what_it_sees(ctx) -> Check:
    seen = {name: os.environ.get(name) for name in ("GITHUB_TOKEN", "GIT_CONFIG_VALUE_0", "PLAIN")}
    ctx.log(f"handler pid {os.getpid()}")
    print("printed by the handler")
    return Check.passed(f"os.environ: {seen}; ctx.environ token: {ctx.environ.get('GITHUB_TOKEN')}; "
                        f"state tasks: {sorted(ctx.state['tasks'])}", pid=os.getpid())


SEES = Handler(action=lambda ctx: {"performance_metrics": {"seen": 1}}, checks={"criterion 1": _what_it_sees})


def _exit(ctx):
    os._exit(3)


EXITS = Handler(action=_exit, checks={})


def _raise(ctx):
    raise RuntimeError("the handler broke")


RAISES = Handler(action=_raise, checks={})


def _report(ctx):
    # The secret reaches the body as a careless handler would put it there: the engine masks it.
    where = ctx.incidents.open_issue("alert:Drill:v2", "Drill: v2", f"fires; token {os.environ.get('LEAK', '')}",
                                     ["incident", "production"])
    ctx.incidents.close_issue("alert:Drill:v2", "resolved: it no longer fires")
    return {"performance_metrics": {"told": 1 if where.endswith(".md") else 0}}


REPORTS = Handler(action=_report, checks={})
