"""Run pytest in a subprocess and read what it did from its JUnit XML.

Handlers that judge test suites start them here (several at once when they are independent)
and count results from `--junitxml`, never from pytest's terminal output.
"""
from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

OUTCOMES = ("passed", "failed", "error", "skipped")


@dataclass(frozen=True)
class Case:
    """One test case of a JUnit report."""

    id: str  # "tests/migration/test_x.py::test_y[param]" rebuilt from classname and name
    outcome: str  # one of OUTCOMES
    message: str = ""


@dataclass(frozen=True)
class PytestRun:
    """A finished pytest subprocess and its JUnit cases."""

    name: str
    command: tuple[str, ...]
    returncode: int
    seconds: float
    log: Path
    cases: tuple[Case, ...]

    def counts(self) -> dict[str, int]:
        """Cases per outcome, every outcome present."""
        found = Counter(case.outcome for case in self.cases)
        return {outcome: found[outcome] for outcome in OUTCOMES}

    def summary(self) -> str:
        """`N passed, N failed, ...` in pytest's words."""
        counts = self.counts()
        return ", ".join(f"{n} {o}" for o, n in counts.items() if n) or "no tests"

    def not_passed(self) -> list[Case]:
        """Failed and erroring cases."""
        return [case for case in self.cases if case.outcome in ("failed", "error")]


def case_id(testcase: ET.Element) -> str:
    """`path::name` from JUnit's dotted classname (`tests.migration.test_x` or `...test_x.TestClass`)."""
    classname, name = testcase.get("classname", ""), testcase.get("name", "")
    parts = classname.split(".")
    module_end = next((i for i in range(len(parts), 0, -1) if parts[i - 1].startswith("test")), len(parts))
    path = "/".join(parts[:module_end]) + ".py"
    return "::".join([path, *parts[module_end:], name])


def read_junit(path: Path) -> tuple[Case, ...]:
    """The test cases of a JUnit XML file written by pytest."""
    cases = []
    for testcase in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = testcase.find(tag)
            if found is not None:
                outcome, message = tag.replace("failure", "failed"), found.get("message", "") or (found.text or "")
                break
        cases.append(Case(case_id(testcase), outcome, message))
    return tuple(cases)


class Started:
    """A pytest subprocess under way; `wait` turns it into a PytestRun."""

    def __init__(self, name: str, args: Sequence[str], root: Path, workdir: Path, env: Mapping[str, str]):
        self.name, self.began = name, time.perf_counter()
        self.junit, self.log = workdir / f"{name}.junit.xml", workdir / f"{name}.log"
        self.junit.unlink(missing_ok=True)
        self.command = (sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", f"--junitxml={self.junit}")
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(self.command, cwd=root, env=dict(env), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 900) -> PytestRun:
        """Wait for pytest to end; read its JUnit report (no report: no cases)."""
        try:
            returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            returncode = self.proc.wait()
        cases = read_junit(self.junit) if self.junit.exists() else ()
        return PytestRun(self.name, self.command, returncode, round(time.perf_counter() - self.began, 2), self.log, cases)


def start_all(runs: Mapping[str, Sequence[str]], root: Path, workdir: Path, env: Mapping[str, str],
              envs: Mapping[str, Mapping[str, str]] | None = None) -> list[Started]:
    """Start every named pytest run at once, each with `env` plus its own extras from `envs`."""
    return [Started(name, args, root, workdir, {**env, **(envs or {}).get(name, {})}) for name, args in runs.items()]


def wait_all(started: Sequence[Started]) -> dict[str, PytestRun]:
    """Wait for every started run."""
    return {run.name: run.wait() for run in started}


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log, for evidence."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").rstrip().splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"
