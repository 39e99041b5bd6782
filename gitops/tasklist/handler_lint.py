"""Lint of the handler registry against the task list: what would otherwise show only at run time.

Two levels, because importing a handler can import heavy libraries (dspy: seconds):
`registry_diagnostics` reads only the registry's task ids (free, on by default), and
`handler_diagnostics` imports every registered handler and pairs its checks with the task's
criteria through `gitops.handlers.match_checks`, the matcher the run uses (`gitops lint --handlers`).

Severities follow what the run would do: an error where the task would fail when it runs
(the handler cannot be loaded, or `run_handler` refuses a check that matches no criterion),
a warning where the run still does what the task list says (a registry entry for a task
that does not exist is never run; a criterion with no check becomes manual and is signed
off at the checkpoint, as the Handler contract allows).

Handler modules are reached only through the registry's strings: this module names none.
"""
from __future__ import annotations

from typing import Iterator

from gitops.handlers import Registry, RegistryError, match_checks
from gitops.model import Diagnostic, Severity, Task, TaskList


def registry_diagnostics(tasklist: TaskList, registry: Registry) -> Iterator[Diagnostic]:
    """Entries for task ids the task list does not define (no import: cheap enough for every lint)."""
    for task_id in sorted(registry.ids() - set(tasklist.tasks)):
        # Warning: the runner executes only registered ids that are tasks, so the entry is
        # dead, not harmful; the task it was meant for (renamed?) is reported as manual.
        yield Diagnostic(
            tasklist.path, 1, Severity.WARNING,
            f"{_where(registry)} maps Task {task_id} to {registry.refs[task_id]}, but the task list "
            f"defines no Task {task_id}; remove the entry or fix its task id",
        )


def handler_diagnostics(tasklist: TaskList, registry: Registry) -> Iterator[Diagnostic]:
    """Import each registered handler of a task in the list and match its checks (may be slow)."""
    for task in tasklist.tasks.values():
        if task.id in registry.refs:
            yield from _handler(tasklist, registry, task)


def _handler(tasklist: TaskList, registry: Registry, task: Task) -> Iterator[Diagnostic]:
    ref = registry.refs[task.id]
    fix = f"fix the entry for Task {task.id} in {_where(registry)}"
    try:
        handler = registry.resolve(task.id)
    except RegistryError as exc:
        yield _error(tasklist, task.line, f"the handler of Task {task.id} cannot be loaded: {exc}; {fix}")
        return
    except ImportError as exc:  # a moved module, or a package the handler needs is not installed
        yield _error(tasklist, task.line,
                     f"the handler of Task {task.id} ({ref}) cannot be imported: {exc}; {fix}, "
                     "or install what it needs (scripts/bootstrap)")
        return
    except Exception as exc:  # noqa: BLE001 - whatever the module raises on import fails the task
        yield _error(tasklist, task.line,
                     f"importing the handler of Task {task.id} ({ref}) raised "
                     f"{type(exc).__name__}: {exc}; fix the module so that it imports")
        return
    if (handler.window is not None) != (task.id in registry.windows):
        # A window not in WINDOWS would wait forever on GitHub: no windows workflow would evaluate it.
        said = ("declares a window but is not in WINDOWS, so on GitHub no scheduled workflow would evaluate it; "
                f"add {task.id!r} to WINDOWS" if handler.window is not None
                else f"has no window but is in WINDOWS; remove {task.id!r} from WINDOWS")
        yield _error(tasklist, task.line, f"the handler of Task {task.id} ({ref}) {said} of {registry.module}")
    paired, unmatched = match_checks(handler, task)
    for criterion, check in zip(task.done_when, paired):
        if check is None:
            yield Diagnostic(
                tasklist.path, criterion.line, Severity.WARNING,
                f"the handler of Task {task.id} ({ref}) has no check for the criterion "
                f"{criterion.text!r}, so a person must sign it off at the checkpoint; add a check "
                "whose key is the start of the criterion's text",
            )
    line = task.field_lines.get("done_when", task.line)
    for key in unmatched:
        yield _error(tasklist, line,
                     f"the handler of Task {task.id} ({ref}) has a check {key!r} that matches no "
                     "Done-when criterion, so the task would fail before its action runs; make "
                     "the key the start of one criterion's text, or remove the check")


def _where(registry: Registry) -> str:
    return f"HANDLERS of {registry.module}" if registry.module else "the handler registry"


def _error(tasklist: TaskList, line: int, message: str) -> Diagnostic:
    return Diagnostic(tasklist.path, line, Severity.ERROR, message)
