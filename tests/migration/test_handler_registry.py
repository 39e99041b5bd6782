"""Every handler of the configured registry ([tool.gitops] handlers) against the configured task
list: it imports, it is a Handler, and its checks match the task's Done-when criteria exactly.

The registry is read, never restated here: modules may move, the registry strings follow them.
Importing the handlers imports dspy (seconds), which is why `gitops lint` does this only with
`--handlers`.
"""
from __future__ import annotations

import pytest

from gitops.config import load_config
from gitops.handlers import Handler, Registry, match_checks
from gitops.tasklist.handler_lint import registry_diagnostics
from gitops.tasklist.parser import load
from tests.conftest import ROOT

CONFIG = load_config(ROOT, {})
REGISTRY = Registry.from_module(CONFIG.handlers)
TASKLIST, _ = load(CONFIG.tasklist)


def test_the_project_configures_a_registry_for_its_task_list() -> None:
    assert CONFIG.handlers, "[tool.gitops] handlers is not set in pyproject.toml"
    assert REGISTRY.ids(), f"{CONFIG.handlers}.HANDLERS is empty"
    assert [str(d) for d in registry_diagnostics(TASKLIST, REGISTRY)] == []


@pytest.mark.parametrize("task_id", sorted(REGISTRY.ids()))
def test_each_registered_handler_imports_and_checks_exactly_its_criteria(task_id: str) -> None:
    handler = REGISTRY.resolve(task_id)  # raises with the ImportError if a module moved
    assert isinstance(handler, Handler)
    task = TASKLIST.tasks.get(task_id)
    assert task is not None, f"{CONFIG.handlers} registers Task {task_id}, which {CONFIG.tasklist.name} does not define"
    paired, unmatched = match_checks(handler, task)
    unchecked = [criterion.text for criterion, check in zip(task.done_when, paired) if check is None]
    assert (unchecked, unmatched) == ([], []), (
        f"Task {task_id} ({REGISTRY.refs[task_id]}): criteria with no check, checks with no criterion"
    )
