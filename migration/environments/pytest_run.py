"""Run pytest in a subprocess and read what it did from its JUnit XML: the one way handlers run tests.

`run_pytest` runs in an environment of Task 1.1 (with its test tools, see
`migration.environments.pytest_tools`) or, without one, in the engine's own interpreter.
Results are counted from `--junitxml`, never from pytest's terminal output; a thread pool
runs several at once when they are independent.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migration.environments.environment import Environment
from migration.environments.pytest_tools import ensure_test_tools

OUTCOMES = ("passed", "failed", "error", "skipped")
MESSAGE_CHARS = 500  # of a failure's message kept in a record


@dataclass(frozen=True)
class Case:
    """One test case of a JUnit report."""

    classname: str  # JUnit's dotted module (and class): "tests.assistant.test_qa.TestRoles"
    name: str  # "test_role[coder]"
    outcome: str  # one of OUTCOMES
    message: str = ""

    @property
    def id(self) -> str:
        """The pytest node id, `path::name` rebuilt from the dotted classname (`tests/x/test_y.py::Class::test`)."""
        parts = self.classname.split(".")
        module_end = next((i for i in range(len(parts), 0, -1) if parts[i - 1].startswith("test")), len(parts))
        return "::".join(["/".join(parts[:module_end]) + ".py", *parts[module_end:], self.name])

    @property
    def junit_id(self) -> str:
        """`classname::name` as JUnit writes them: the form Tasks 2.2 and 3.1 keep in their records."""
        return f"{self.classname}::{self.name}".lstrip(":")


@dataclass(frozen=True)
class PytestRun:
    """A finished pytest subprocess and the cases of its JUnit report."""

    command: tuple[str, ...]
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    cases: tuple[Case, ...]
    reported: bool  # pytest wrote the JUnit report asked for (False too when none was asked for)

    def counts(self) -> dict[str, int]:
        """Cases per outcome, every outcome present."""
        found = Counter(case.outcome for case in self.cases)
        return {outcome: found[outcome] for outcome in OUTCOMES}

    def summary(self) -> str:
        """`N passed, N failed, ...` in pytest's words."""
        return ", ".join(f"{n} {o}" for o, n in self.counts().items() if n) or "no tests"

    def not_passed(self) -> list[Case]:
        """Failed and erroring cases."""
        return [case for case in self.cases if case.outcome in ("failed", "error")]

    def as_record(self) -> dict[str, Any]:
        """Counts, the ids (`junit_id`) of failed and erroring tests and their messages, for a task's record."""
        failed = self.not_passed()
        return {"tests": len(self.cases), "passed": self.counts()["passed"], "failed": [c.junit_id for c in failed],
                "skipped": self.counts()["skipped"],
                "messages": {c.junit_id: c.message.strip()[:MESSAGE_CHARS] for c in failed}}


def read_junit(path: Path) -> tuple[Case, ...]:
    """The test cases of a JUnit XML file written by pytest."""
    cases = []
    for testcase in ElementTree.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = testcase.find(tag)
            if found is not None:
                outcome, message = tag.replace("failure", "failed"), found.get("message") or found.text or ""
                break
        cases.append(Case(testcase.get("classname", ""), testcase.get("name", ""), outcome, message))
    return tuple(cases)


def run_pytest(args: Sequence[str], junit: Path | None = None, *, env: Environment | None = None,
               root: Path | None = None, environ: Mapping[str, str] | None = None, timeout: float = 300) -> PytestRun:
    """`python -m pytest -p no:cacheprovider ARGS [--junitxml=JUNIT]`, and the cases of its report.

    With `env`: in that environment with its test tools and the repository's pytest config
    (its folder is the working directory, so only sys.path imports code); `environ` adds
    variables to the environment's own. Without: in the engine's interpreter at `root`, with
    exactly `environ`. A timeout raises `subprocess.TimeoutExpired`.
    """
    command = ["-m", "pytest", "-p", "no:cacheprovider", *args]
    if junit is not None:
        junit.unlink(missing_ok=True)
        command.append(f"--junitxml={junit}")
    began = time.perf_counter()
    if env is not None:
        config = ["--rootdir", str(env.root), "-c", str(env.root / "pyproject.toml")]
        command[2:2] = config
        tools = {"PYTHONPATH": str(ensure_test_tools(env))}
        proc = env.run(command, env={**(environ or {}), **tools}, timeout=timeout)
        command.insert(0, str(env.python))
    else:
        if root is None:
            raise ValueError("run_pytest needs `root` (where to run) when no environment is given")
        command.insert(0, sys.executable)
        proc = subprocess.run(command, cwd=root, env=dict(os.environ if environ is None else environ), capture_output=True, text=True,
                              errors="replace", timeout=timeout)
    reported = junit is not None and junit.exists()
    return PytestRun(tuple(command), proc.returncode, round(time.perf_counter() - began, 2), proc.stdout, proc.stderr,
                     read_junit(junit) if reported and junit is not None else (), reported)
