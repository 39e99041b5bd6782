"""Secrets out of what the runner records: a task's result and the free text of an event.

state.json is committed and posted, and MLflow keeps what it is given, so every string that
reaches them passes here first. gitops.redact finds secrets in text; this module knows which
fields of a `TaskResult` and of each transition event are free text, and which are not.
"""
from __future__ import annotations

from dataclasses import replace

from gitops.forge import incidents
from gitops.handlers import TaskResult
from gitops.plan import transitions
from gitops.redact import Redactor

# A check's keys whose values are not free text: the criterion (the task list's words, matched
# by text) and the status (an enum of state.json).
CHECK_KEYS_KEPT = frozenset({"criterion", "status"})


def redacted_result(result: TaskResult, redactor: Redactor) -> TaskResult:
    """Every string of the checks (evidence, metrics' labels), the error, the state updates and the
    incidents redacted; a check's criterion and status stay: they are the task list's text and state's enum."""
    redact = redactor.redact_value
    checks = [redact(c, keep=CHECK_KEYS_KEPT) for c in result.checks]
    error = redactor.redact(result.error) if result.error else result.error
    return replace(result, checks=checks, error=error, updates=redact(dict(result.updates)),
                   incidents=incidents.redacted(result.incidents, redactor))


def redacted_event(event: transitions.Event, redactor: Redactor) -> transitions.Event:
    """Every free text an event writes to state (a resume's reason, who approved, a result) redacted."""
    if isinstance(event, transitions.Finished):
        result = redacted_result(TaskResult(list(event.checks), event.error, event.updates), redactor)
        return replace(event, checks=result.checks, error=result.error, updates=result.updates)
    if isinstance(event, transitions.Resumed):
        return replace(event, reason=redactor.redact(event.reason), by=redactor.redact(event.by))
    if isinstance(event, transitions.Approved):
        return replace(event, by=redactor.redact(event.by))
    if isinstance(event, (transitions.DeployRejected, transitions.EvaluationRejected)):
        return replace(event, by=redactor.redact(event.by), comment=redactor.redact(event.comment))
    if isinstance(event, transitions.Started) and event.run_url:
        return replace(event, run_url=redactor.redact(event.run_url))
    return event
