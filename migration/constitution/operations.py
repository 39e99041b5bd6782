"""The operation guard: announce an operation before doing it; broken articles stop it.

`operation(kind, **details)` records the operation in every active `Guard` (innermost last)
and raises `ConstitutionViolation` when it breaks an article and a guard is strict, so the
caller never performs it. Outside any `guarded(...)` block a strict default guard over this
repository applies. While a guard is active, a Python audit hook (PEP 578) also turns file
deletions, renames and subprocess launches into operations: code that never calls the API
is still judged, and a strict guard aborts the call before it happens (the hook raises).
Audit hooks cannot be removed; once installed, ours returns at once when no guard is active.
"""
from __future__ import annotations

import os
import sys
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from migration.constitution.articles import Scope
from migration.constitution.constitution import Constitution, default, violations
from migration.constitution.model import Operation, Violation, World

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Audit events that are operations: event name -> operation kind.
AUDITED = {"os.remove": "delete", "os.rmdir": "delete", "shutil.rmtree": "delete", "os.rename": "move",
           "subprocess.Popen": "run"}


class ConstitutionViolation(Exception):
    """An operation was refused because it breaks one or more articles."""

    def __init__(self, found: list[Violation]):
        self.violations = found
        super().__init__("refused by the constitution:\n" + "\n".join(f"- {v}" for v in found))

    @property
    def article_ids(self) -> list[str]:
        """The ids of the broken articles, in order, without repeats."""
        return list(dict.fromkeys(v.article for v in self.violations))


@dataclass
class Guard:
    """An operation log judged against the constitution; strict guards refuse violations."""

    world: World
    strict: bool = True
    constitution: Constitution = field(default_factory=default)
    operations: list[Operation] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    applied: Counter[str] = field(default_factory=Counter)  # article id -> operations it applied to
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, op: Operation) -> list[Violation]:
        """Judge and log `op`; the articles it breaks."""
        judgements = self.constitution.judge(op, Scope.OPERATIONS, self.world)
        found = violations(judgements, op.describe)
        with self._lock:
            self.operations.append(op)
            self.violations.extend(found)
            self.applied.update(a.id for a, verdict in judgements if verdict.applies)
        return found


_guards: list[Guard] = []
_guards_lock = threading.Lock()
_default: list[Guard] = []
_hook_installed = False
_busy = threading.local()  # re-entry from inside the hook (our own file checks) is ignored


def default_guard() -> Guard:
    """The strict guard over this repository used when no `guarded` block is active."""
    with _guards_lock:
        if not _default:
            _default.append(Guard(World.of(PROJECT_ROOT)))
        return _default[0]


def dispatch(op: Operation) -> Operation:
    """Record `op` in every active guard; raise if it breaks an article under a strict guard."""
    refused: list[Violation] = []
    for guard in list(_guards) or [default_guard()]:
        found = guard.record(op)
        if found and guard.strict:
            refused.extend(v for v in found if v not in refused)
    if refused:
        raise ConstitutionViolation(refused)
    return op


def operation(kind: str, **details: Any) -> Operation:
    """Announce an operation before performing it (e.g. `operation("delete", path=p)`)."""
    return dispatch(Operation(kind, details))


@contextmanager
def guarded(guard: Guard) -> Iterator[Guard]:
    """Make `guard` active (with the audit hook) inside the block."""
    install_audit_hook()
    with _guards_lock:
        _guards.append(guard)
    try:
        yield guard
    finally:
        with _guards_lock:
            _guards.remove(guard)


def install_audit_hook() -> None:
    """Install the audit hook once per process."""
    global _hook_installed
    with _guards_lock:
        if not _hook_installed:
            sys.addaudithook(_audit)
            _hook_installed = True


def _path(value: Any) -> str | None:
    if value is None or isinstance(value, int):
        return None  # a file descriptor: not a path we can judge
    return os.path.abspath(os.fsdecode(value))


def audit_operation(event: str, args: tuple[Any, ...]) -> Operation | None:
    """The operation an audit event stands for, or None."""
    kind = AUDITED.get(event)
    if kind == "run":
        executable, argv, cwd = args[0], args[1], args[2]
        return Operation("run", {"args": argv if argv is not None else [executable], "cwd": _path(cwd)}, "audit")
    if kind is None or (event != "os.rename" and args[1] not in (None, -1)):
        return None  # os.remove/rmdir relative to a dir_fd (-1: none): shutil.rmtree's inner calls, judged at its own event
    path = _path(args[0])
    if path is None:
        return None
    details: dict[str, Any] = {"path": path}
    if event == "os.rename":
        details["to"] = _path(args[1])
    return Operation(kind, details, "audit")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _guards or event not in AUDITED or getattr(_busy, "on", False):
        return
    _busy.on = True
    try:
        op = audit_operation(event, args)
        if op is not None:
            dispatch(op)
    finally:
        _busy.on = False
