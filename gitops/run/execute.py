"""Carry out one task: through its Python handler, its **Run** command, or as manual work.

Nothing a handler does can crash the engine: exceptions become a failed result with the
traceback, which the planner turns into a HotFix.
"""
from __future__ import annotations

import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from gitops.extras import missing_hint
from gitops.handlers import Check, Handler, Registry, TaskContext, TaskResult, match_checks
from gitops.model import Task
from gitops.run.command import run_shell
from gitops.safe_files import log_refusal

# Shared state keys a handler may set through its action's return value.
HANDLER_KEYS = frozenset({"performance_metrics", "compatibility_issues", "rollback_ready", "test_results"})
TAIL_LINES = 30
DONE_WHEN = "done_when"  # Criterion.kind of the task's own criteria
# A further criterion (Quality Gates, Testing Requirements) that nothing checked: said, not claimed,
# and it does not stop the task (a Done-when criterion without a check is manual instead).
NO_CHECK = Check.skipped("not checked: no check of the handler matches this further criterion")
NOT_BY_COMMAND = Check.skipped("not checked: a **Run** command's exit status proves the Done-when criteria only")


def check_record(criterion: str, check: Check, kind: str = DONE_WHEN) -> dict[str, Any]:
    record = {
        "criterion": criterion,
        "status": check.status.value,
        "evidence": check.evidence,
        "metrics": dict(check.metrics),
    }
    if kind != DONE_WHEN:  # a further criterion (Quality Gates, Testing Requirements): said so in the state
        record["kind"] = kind
    return record


def all_checks(task: Task, check: Check, further: Check | None = None) -> list[dict[str, Any]]:
    """A record per criterion of the task: `check` for each Done-when criterion, `further` (default:
    `check`) for each further criterion (issue 13: shown in the state, proven only by a check of its own)."""
    return ([check_record(c.text, check) for c in task.done_when]
            + [check_record(c.text, further or check, c.kind) for c in task.further_criteria])


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_manual(task: Task) -> TaskResult:
    """A task with neither handler nor Run: every criterion is signed off by a person."""
    what = "no handler or **Run** command: a person checks this and signs it off at the checkpoint"
    return TaskResult(all_checks(task, Check.manual(what)))


def run_command(task: Task, root: Path, log_path: Path, environ: Mapping[str, str]) -> TaskResult:
    """Run a task's **Run** command from the repository root; exit 0 passes every criterion.

    Its output goes to the log as it is written; only a bounded tail of each stream is read back
    (gitops.run.command), so output of any size costs the same memory.
    """
    if refused := log_refusal(log_path):  # a link at the log: not run (gitops/safe_files.py)
        return _all_failed(task, f"not run: {refused}", refused, None)
    env = {**environ, "GITOPS_TASK_ID": task.id}
    try:
        ran = run_shell(task.run or "", root, env, log_path)
    except OSError as exc:  # e.g. the working directory vanished
        return _all_failed(task, f"could not start `{task.run}`: {exc}", str(exc), None)
    output = tail(ran.stdout_tail + ran.stderr_tail, 10)
    if ran.returncode == 0:
        evidence = f"`{task.run}` exited 0 (log: {log_path})" + (f"\n{output}" if output else "")
        return TaskResult(all_checks(task, Check.passed(evidence), NOT_BY_COMMAND), log=str(log_path))
    error = f"`{task.run}` exited {ran.returncode}\n{tail(ran.stderr_tail) or tail(ran.stdout_tail)}".rstrip()
    evidence = f"`{task.run}` exited {ran.returncode} (log: {log_path})"
    return _all_failed(task, evidence, error, str(log_path))


def _all_failed(task: Task, evidence: str, error: str, log: str | None) -> TaskResult:
    return TaskResult(all_checks(task, Check.failed(evidence), NOT_BY_COMMAND), error=error, log=log)


def run_registered(registry: Registry, ctx: TaskContext, evaluation: bool = False) -> TaskResult:
    """Import the task's handler and run it (`evaluation`: its window's evaluation and checks, see
    evaluate_window); an import that fails is the task's failure, not a crash."""
    task = ctx.task
    try:
        handler = registry.resolve(task.id)
    except Exception as exc:  # noqa: BLE001 - an import error is a task failure, not a crash
        error = f"the handler of Task {task.id} cannot be loaded:\n{traceback.format_exc()}"
        hint = missing_hint(exc, registry.refs[task.id].partition(":")[0])
        if hint:  # a missing extra is said in one line: the traceback adds nothing
            error = f"the handler of Task {task.id} cannot be loaded: {hint}"
        reason = "not checked: the handler could not be loaded"
        return TaskResult(all_checks(task, Check.skipped(reason)), error)
    return evaluate_window(handler, ctx) if evaluation else run_handler(handler, ctx)


def run_handler(handler: Handler, ctx: TaskContext) -> TaskResult:
    """Run the action, then every check; exceptions are caught and recorded."""
    task = ctx.task
    _, unmatched = match_checks(handler, task)
    if unmatched:
        error = (
            f"the handler of Task {task.id} has checks that match no Done-when criterion: "
            + ", ".join(repr(k) for k in unmatched)
            + ". Make each check key the start of one criterion's text."
        )
        return TaskResult(all_checks(task, Check.skipped("not checked: handler error")), error)
    try:
        updates = dict(handler.action(ctx) or {})
    except Exception as exc:  # noqa: BLE001 - a handler's failure is data, never a crash
        error = f"the action of Task {task.id} raised:\n{traceback.format_exc()}"
        hint = missing_hint(exc, getattr(handler.action, "__module__", None) or "")
        if hint:  # a lazy import of an extra's library: say which extra, after the traceback
            error += hint
        reason = "not checked: the action failed (see the error)"
        # What it attached before it failed (a log, a partial report) helps to see why.
        return TaskResult(all_checks(task, Check.skipped(reason)), error, artifacts=tuple(ctx.artifacts),
                          incidents=ctx.incidents.incidents)
    refused = _refused_keys(task, updates, "action")
    if refused is not None:
        return refused
    if handler.window is None:
        return _checked(handler, ctx, updates)
    try:
        seconds = float(handler.window.length(ctx))
    except Exception:  # noqa: BLE001 - a handler's failure is data, never a crash
        error = f"the window length of Task {task.id} could not be read:\n{traceback.format_exc()}"
        return TaskResult(all_checks(task, Check.skipped("not checked: the window did not open (see the error)")),
                          error, updates=updates, artifacts=tuple(ctx.artifacts),
                          incidents=ctx.incidents.incidents)
    if ctx.scheduled_windows and seconds > 0:  # nothing judged yet: the task waits (gitops.plan.windows)
        return TaskResult([], updates=updates, artifacts=tuple(ctx.artifacts),
                          incidents=ctx.incidents.incidents, window_seconds=seconds)
    if seconds > 0:
        ctx.log(f"Task {task.id}: its window of {seconds:g} s elapses in this process")
        ctx.wait(seconds)
    result = evaluate_window(handler, ctx)
    return replace(result, updates={**updates, **result.updates})


def evaluate_window(handler: Handler, ctx: TaskContext) -> TaskResult:
    """After the window: the handler's evaluation (what the window saw), then every check."""
    task = ctx.task
    if handler.window is None:
        return TaskResult(all_checks(task, Check.skipped("not checked: handler error")),
                          f"the handler of Task {task.id} declares no window to evaluate")
    try:
        updates = dict(handler.window.evaluate(ctx) or {})
    except Exception as exc:  # noqa: BLE001 - a handler's failure is data, never a crash
        error = f"the window evaluation of Task {task.id} raised:\n{traceback.format_exc()}"
        hint = missing_hint(exc, getattr(handler.window.evaluate, "__module__", None) or "")
        reason = "not checked: the window evaluation failed (see the error)"
        return TaskResult(all_checks(task, Check.skipped(reason)), error + (hint or ""), artifacts=tuple(ctx.artifacts),
                          incidents=ctx.incidents.incidents)
    return _refused_keys(task, updates, "window evaluation") or _checked(handler, ctx, updates)


def _refused_keys(task: Task, updates: Mapping[str, Any], what: str) -> TaskResult | None:
    bad_keys = sorted(set(updates) - HANDLER_KEYS)
    if not bad_keys:
        return None
    return TaskResult(
        all_checks(task, Check.skipped("not checked: handler error")),
        f"the {what} of Task {task.id} returned state keys it may not set: {', '.join(bad_keys)} "
        f"(allowed: {', '.join(sorted(HANDLER_KEYS))})",
    )


def _checked(handler: Handler, ctx: TaskContext, updates: dict[str, Any]) -> TaskResult:
    paired, _ = match_checks(handler, ctx.task)
    checks = [check_record(c.text, _run_check(fn, ctx) if fn is not None or c.kind == DONE_WHEN else NO_CHECK, c.kind)
              for c, fn in zip(ctx.task.all_criteria, paired)]
    return TaskResult(checks, updates=updates, artifacts=tuple(ctx.artifacts),
                          incidents=ctx.incidents.incidents)


def _run_check(fn: Any, ctx: TaskContext) -> Check:
    if fn is None:
        return Check.manual("no automated check: a person signs this off at the checkpoint")
    try:
        result = fn(ctx)
    except Exception:  # noqa: BLE001
        return Check.failed(f"the check raised:\n{traceback.format_exc()}")
    if not isinstance(result, Check):
        return Check.failed(f"the check returned {result!r}, not a gitops.handlers.Check with evidence")
    if not result.evidence.strip():
        return Check.failed("the check returned no evidence; a result needs what was measured")
    return result
