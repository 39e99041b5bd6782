"""Tests for gitops/tasklist/dependencies.py and how task_area resolves references into waits."""
from __future__ import annotations

import pytest

from gitops.model import ExternalDependency
from gitops.tasklist.dependencies import Reference, read_dependencies
from gitops.tasklist.parser import parse


def _tasks(ids: list[str]) -> list[Reference]:
    return [Reference("task", task_id) for task_id in ids]


@pytest.mark.parametrize(("value", "references"), [
    ("None", []), ("n/a", []), ("—", []), ("", []),
    ("Task 1.1", _tasks(["1.1"])),
    ("1.1, Task 01.2", _tasks(["1.1", "1.2"])),
    ("`Task 1.1` (schema only) and Task 1.2", _tasks(["1.1", "1.2"])),
    ("T-1", _tasks(["T-1"])), ("T-1.1; T-1.2", _tasks(["T-1.1", "T-1.2"])),
    ("Task 1", _tasks(["1"])), ("T1 & A1", _tasks(["T1", "A1"])),
    ("C1-C3", _tasks(["C1", "C2", "C3"])),
    ("T-1..T-3", _tasks(["T-1", "T-2", "T-3"])),
    ("T1–T3", _tasks(["T1", "T2", "T3"])),
    ("Tasks 1.1 to 1.3", _tasks(["1.1", "1.2", "1.3"])),
    ("T-2 complete", _tasks(["T-2"])),
    ("Phase 1 completion", [Reference("phase", "Phase 1 completion")]),
    ("B-1006-A completion", [Reference("backlog", "B-1006-A completion")]),
    ("All previous tasks", [Reference("previous", "All previous tasks")]),
    ("DB reachable", [Reference("text", "DB reachable")]),
    ("C3-C1", [Reference("text", "C3-C1")]),
])
def test_dependency_values(value: str, references: list[Reference]) -> None:
    assert read_dependencies(value) == tuple(references)


def test_waits_and_what_is_only_recorded() -> None:
    text = ("### T-1: A\n**Done when**:\n- [ ] a\n"
            "### T-2: B\n**Done when**:\n- [ ] b\n"
            "### T-3: C\n**Dependencies**: All previous tasks, B-1006, T9, Phase 1 completion, DB up\n"
            "**Done when**:\n- [ ] c\n")
    tasklist, diagnostics = parse(text, "t.md")
    task = tasklist.tasks["T-3"]
    # T9 is of this list's family (T): waited on, and lint says it is undefined; B-1006 is not
    assert task.dependencies == ("T-1", "T-2", "T9")
    assert task.external_dependencies == (
        ExternalDependency("backlog", "B-1006"), ExternalDependency("phase", "Phase 1 completion"),
        ExternalDependency("text", "DB up"),
    )
    assert [(d.line, d.severity.value, d.message) for d in diagnostics][1:] == [
        (8, "warning", "Task T-3 depends on 'DB up', which is not a task id: it is shown and not waited "
                       "on; if it means a task, write its id (like Task 1.1)"),
    ]
