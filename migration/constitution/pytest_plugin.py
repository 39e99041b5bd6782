"""pytest plugin: every test it covers is judged against the constitution.

During each test's setup, call and teardown, the output clauses judge every output of an
assistant module (an `OutputMonitor` in `dspy.settings.callbacks`) and the operation clauses
judge every operation (a strict `Guard`: `constitution.operation(...)` calls and the audit
hook). A violation fails that phase with the article id and the evidence; a violating
operation is also refused before it happens. Enable it for a directory by importing these
hooks into its conftest.py (`tests/assistant/conftest.py` does), or for a whole run with
`-p migration.constitution.pytest_plugin`.

Environment: GITOPS_CONSTITUTION_REPORT=PATH writes a JSON report at the end of the session;
GITOPS_CONSTITUTION=off disables the plugin.
"""
from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dspy
import pytest

from migration.constitution.constitution import Constitution, Judgement, default
from migration.constitution.model import OutputRecord, Violation, World
from migration.constitution.monitor import OutputMonitor, Tally
from migration.constitution.operations import Guard, guarded

REPORT_VARIABLE = "GITOPS_CONSTITUTION_REPORT"
SWITCH_VARIABLE = "GITOPS_CONSTITUTION"
EXEMPT_MARKER = "constitution_exempt"


class ConstitutionSession:
    """The plugin's state for one pytest session: the monitor, the tally, the current test."""

    def __init__(self, root: Path, constitution: Constitution) -> None:
        self.constitution = constitution
        self.world = World.of(root)
        self.tally = Tally()
        self.monitor = OutputMonitor(self.world, self._on_output, constitution)
        self.tests: dict[str, int] = {}  # node id -> outputs judged during the test
        self._current: list[Violation] | None = None
        self._node: str | None = None

    def install(self) -> None:
        """Add the monitor to DSPy's global callbacks, seen by every thread (`dspy.context` is per thread)."""
        present = list(dspy.settings.get("callbacks") or [])
        if self.monitor not in present:
            dspy.settings.configure(callbacks=[*present, self.monitor])

    def uninstall(self) -> None:
        """Take the monitor out of DSPy's global callbacks."""
        dspy.settings.configure(callbacks=[c for c in dspy.settings.get("callbacks") or [] if c is not self.monitor])

    def _on_output(self, record: OutputRecord, judgements: list[Judgement]) -> None:
        current, node = self._current, self._node
        if current is None or node is None:
            return  # an output outside the tests this plugin covers
        current.extend(self.tally.add_output(record, judgements))
        self.tests[node] = self.tests.get(node, 0) + 1

    @contextmanager
    def watching(self, nodeid: str) -> Iterator[list[Violation]]:
        """Judge the outputs and operations of one test phase; yields the violations found."""
        found: list[Violation] = []
        if self._current is not None:  # the hooks are registered twice (conftest and -p): judge once
            yield found
            return
        self._current, self._node = found, nodeid
        self.tests.setdefault(nodeid, 0)
        guard = Guard(self.world, strict=True, constitution=self.constitution)
        self.install()  # only while a covered test runs: other tests of the session see no callback
        try:
            with guarded(guard):
                yield found
        finally:
            self.uninstall()
            self._current, self._node = None, None
            self.tally.add_operations(len(guard.operations), guard.applied, guard.violations)
            found.extend(guard.violations)

    def report(self) -> dict[str, Any]:
        """The session's report: tests covered, outputs and operations judged, violations."""
        return {"dspy_version": dspy.__version__, "tests": len(self.tests),
                "tests_with_outputs": sum(1 for n in self.tests.values() if n),
                **self.tally.as_dict(self.constitution)}


_SESSION = pytest.StashKey[ConstitutionSession]()


def pytest_configure(config: pytest.Config) -> None:
    """Make the session's monitor (unless GITOPS_CONSTITUTION=off)."""
    config.addinivalue_line("markers", f"{EXEMPT_MARKER}(*article_ids, reason): violations of these articles "
                                       "do not fail the test (they are still counted)")
    if os.environ.get(SWITCH_VARIABLE, "").lower() == "off" or _SESSION in config.stash:
        return
    config.stash[_SESSION] = ConstitutionSession(config.rootpath, default())


def pytest_unconfigure(config: pytest.Config) -> None:
    """Make sure the monitor is out of DSPy's callbacks."""
    session = config.stash.get(_SESSION, None)
    if session is not None:
        session.uninstall()


def _judged(item: pytest.Item, phase: str) -> Generator[None, Any, Any]:
    session = item.config.stash.get(_SESSION, None)
    if session is None:
        return (yield)
    with session.watching(item.nodeid) as found:
        result = yield
    exempt = {a for mark in item.iter_markers(EXEMPT_MARKER) for a in mark.args}
    failing = [v for v in found if v.article not in exempt]
    if failing:
        lines = "\n".join(f"- {v}" for v in failing)
        pytest.fail(f"constitution: {len(failing)} violation(s) during {phase}:\n{lines}", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, Any, Any]:
    """Judge what fixtures produce while setting up a test."""
    return (yield from _judged(item, "setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """Judge what the test produces."""
    return (yield from _judged(item, "call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    """Judge what fixtures produce while tearing down."""
    return (yield from _judged(item, "teardown"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the JSON report when GITOPS_CONSTITUTION_REPORT names a file."""
    state = session.config.stash.get(_SESSION, None)
    target = os.environ.get(REPORT_VARIABLE)
    if state is not None and target:
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state.report(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """One line: what the constitution judged in this session."""
    state = config.stash.get(_SESSION, None)
    if state is not None and state.tests:
        tally = state.tally
        terminalreporter.write_line(
            f"constitution: {tally.outputs} outputs of {len(tally.modules)} assistant module(s) and "
            f"{tally.operations} operations judged in {len(state.tests)} tests against "
            f"{len(state.constitution.articles)} articles; {len(tally.violations)} violation(s)")
