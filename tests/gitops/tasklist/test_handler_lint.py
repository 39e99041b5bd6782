"""Tests for gitops/tasklist/handler_lint.py: registry entries and handlers checked before a run,
on small task lists with handler modules written in tmp_path."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest
from click.testing import CliRunner

from gitops.cli import main
from gitops.handlers import Registry
from gitops.tasklist.handler_lint import handler_diagnostics, registry_diagnostics
from gitops.tasklist.parser import parse

TASKS = """## Phase 1: A
### Task 1.1: Build
**Done when**:
- [ ] **Site** built
- [ ] Links checked
### Task 1.2: Ship
**Done when**:
- [ ] Shipped
"""

HANDLER_MODULE = """from gitops.handlers import Check, Handler

def ok(ctx):
    return Check.passed("measured")

BOTH = Handler(action=lambda ctx: None, checks={"site built": ok, "Links": ok})
FIRST_ONLY = Handler(action=lambda ctx: None, checks={"Site built": ok})
STALE = Handler(action=lambda ctx: None, checks={"Site built": ok, "Links": ok, "Deployed": ok})
SHIPPED = Handler(action=lambda ctx: None, checks={"Shipped": ok})
NOT_A_HANDLER = {"Site built": ok}
"""

Lines = list[tuple[int, str, str]]
WriteModule = Callable[[str, str], None]


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WriteModule]:
    """Write importable modules into tmp_path; forget them afterwards so names can be reused."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(name: str, source: str) -> None:
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
        written.append(name)

    yield write
    for name in written:
        sys.modules.pop(name, None)


def _handlers(refs: dict[str, str]) -> Lines:
    tasklist, _ = parse(TASKS, "t.md")
    registry = Registry(refs, "tl_registry")
    found = [*registry_diagnostics(tasklist, registry), *handler_diagnostics(tasklist, registry)]
    return [(d.line, d.severity.value, d.message) for d in found]


def test_handlers_whose_checks_match_every_criterion_are_clean(write_module: WriteModule) -> None:
    write_module("tl_handlers", HANDLER_MODULE)
    assert _handlers({"1.1": "tl_handlers:BOTH", "1.2": "tl_handlers:SHIPPED"}) == []


def test_an_entry_for_a_task_the_list_does_not_define_is_a_warning_found_without_importing() -> None:
    tasklist, _ = parse(TASKS, "t.md")
    registry = Registry({"1.2": "tl_absent:H", "7.1": "tl_absent:H"}, "tl_registry")
    assert [(d.line, d.severity.value, d.message) for d in registry_diagnostics(tasklist, registry)] == [
        (1, "warning", "HANDLERS of tl_registry maps Task 7.1 to tl_absent:H, but the task list defines no "
                       "Task 7.1; remove the entry or fix its task id"),
    ]
    assert "tl_absent" not in sys.modules


def test_a_module_that_cannot_be_imported_is_an_error_with_the_import_error(write_module: WriteModule) -> None:
    write_module("tl_needs_package", "import tl_package_not_installed\n")
    assert _handlers({"1.2": "tl_needs_package:HANDLER"}) == [
        (6, "error", "the handler of Task 1.2 (tl_needs_package:HANDLER) cannot be imported: No module named "
                     "'tl_package_not_installed'; fix the entry for Task 1.2 in HANDLERS of tl_registry, or "
                     "install what it needs (scripts/bootstrap)"),
    ]


def test_a_module_that_raises_on_import_is_an_error(write_module: WriteModule) -> None:
    write_module("tl_raises", "raise RuntimeError('no GPU here')\n")
    assert _handlers({"1.2": "tl_raises:HANDLER"}) == [
        (6, "error", "importing the handler of Task 1.2 (tl_raises:HANDLER) raised RuntimeError: no GPU "
                     "here; fix the module so that it imports"),
    ]


@pytest.mark.parametrize(
    "ref, problem",
    [
        ("tl_handlers:MISSING", "tl_handlers has no attribute 'MISSING'"),
        ("tl_handlers:NOT_A_HANDLER", "tl_handlers:NOT_A_HANDLER is a dict, not a gitops.handlers.Handler"),
        ("tl_handlers.SHIPPED", "'tl_handlers.SHIPPED' is not a 'module:attribute' string"),
    ],
    ids=["missing-attribute", "not-a-handler", "not-module-colon-attribute"],
)
def test_an_entry_that_names_no_handler_is_an_error(write_module: WriteModule, ref: str, problem: str) -> None:
    write_module("tl_handlers", HANDLER_MODULE)
    assert _handlers({"1.2": ref}) == [
        (6, "error", f"the handler of Task 1.2 cannot be loaded: {problem}; fix the entry for Task 1.2 in "
                     "HANDLERS of tl_registry"),
    ]


def test_a_criterion_with_no_check_is_a_warning_at_its_line(write_module: WriteModule) -> None:
    write_module("tl_handlers", HANDLER_MODULE)
    assert _handlers({"1.1": "tl_handlers:FIRST_ONLY"}) == [
        (5, "warning", "the handler of Task 1.1 (tl_handlers:FIRST_ONLY) has no check for the criterion "
                       "'Links checked', so a person must sign it off at the checkpoint; add a check whose "
                       "key is the start of the criterion's text"),
    ]


def test_a_check_matching_no_criterion_is_an_error_at_the_done_when_line(write_module: WriteModule) -> None:
    write_module("tl_handlers", HANDLER_MODULE)
    assert _handlers({"1.1": "tl_handlers:STALE"}) == [
        (3, "error", "the handler of Task 1.1 (tl_handlers:STALE) has a check 'Deployed' that matches no "
                     "Done-when criterion, so the task would fail before its action runs; make the key the "
                     "start of one criterion's text, or remove the check"),
    ]


def test_without_a_registry_name_messages_say_the_handler_registry() -> None:
    tasklist, _ = parse(TASKS, "t.md")
    [found] = registry_diagnostics(tasklist, Registry({"7.1": "x:H"}))
    assert found.message.startswith("the handler registry maps Task 7.1 to x:H")


# --------------------------------------------------------------------------- the command line
@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_module: WriteModule) -> WriteModule:
    """A project whose [tool.gitops] names t.md and the registry module tl_registry."""
    (tmp_path / "pyproject.toml").write_text('[tool.gitops]\ntasklist = "t.md"\nhandlers = "tl_registry"\n')
    (tmp_path / "t.md").write_text(TASKS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return write_module


def _lint(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["lint", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_lint_imports_handlers_only_with_the_flag(project: WriteModule, tmp_path: Path) -> None:
    project("tl_registry", 'HANDLERS = {"1.1": "tl_handlers:BOTH", "1.2": "tl_raises:HANDLER"}\n')
    project("tl_handlers", HANDLER_MODULE)
    project("tl_raises", "raise RuntimeError('no GPU here')\n")
    code, out, err = _lint()
    assert (code, out) == (0, "")
    assert "tl_handlers" not in sys.modules and "tl_raises" not in sys.modules
    code, out, err = _lint("--handlers")
    assert (code, out) == (1, f"{tmp_path / 't.md'}:6: error: importing the handler of Task 1.2 "
                              "(tl_raises:HANDLER) raised RuntimeError: no GPU here; fix the module so that "
                              "it imports\n")
    assert err == f"{tmp_path / 't.md'}: 2 tasks in 1 phases, 1 error(s), 0 warning(s), 2 handler(s) checked\n"


def test_lint_handlers_says_when_the_task_list_has_no_registry(project: WriteModule, tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text(TASKS, encoding="utf-8")
    code, out, err = _lint("--handlers", "other.md")
    assert (code, out) == (0, "")
    assert err == (f"{tmp_path / 'other.md'}: 2 tasks in 1 phases, 0 error(s), 0 warning(s), no handler "
                   "registry ([tool.gitops] handlers applies to the configured task list only)\n")


WINDOWED_MODULE = """from gitops.handlers import Check, Handler, Window

def ok(ctx):
    return Check.passed("measured")

WATCHED = Handler(action=lambda ctx: None, checks={"Shipped": ok}, window=Window(lambda ctx: 60.0, lambda ctx: None))
SHIPPED = Handler(action=lambda ctx: None, checks={"Shipped": ok})
"""


@pytest.mark.parametrize(("ref", "windows", "said"), [
    ("WATCHED", (), "declares a window but is not in WINDOWS, so on GitHub no scheduled workflow would evaluate "
                    "it; add '1.2' to WINDOWS of tl_registry"),
    ("SHIPPED", ("1.2",), "has no window but is in WINDOWS; remove '1.2' from WINDOWS of tl_registry"),
])
def test_a_window_and_the_registrys_windows_must_agree(write_module: WriteModule, ref: str, windows: tuple,
                                                       said: str) -> None:
    write_module("tl_windowed", WINDOWED_MODULE)
    tasklist, _ = parse(TASKS, "t.md")
    registry = Registry({"1.2": f"tl_windowed:{ref}"}, "tl_registry", windows=windows)
    found = [(d.severity.value, d.message) for d in handler_diagnostics(tasklist, registry)]
    assert found == [("error", f"the handler of Task 1.2 (tl_windowed:{ref}) {said}")]


def test_a_window_in_windows_is_clean(write_module: WriteModule) -> None:
    write_module("tl_windowed", WINDOWED_MODULE)
    tasklist, _ = parse(TASKS, "t.md")
    registry = Registry({"1.2": "tl_windowed:WATCHED"}, "tl_registry", windows=("1.2",))
    assert list(handler_diagnostics(tasklist, registry)) == []
