"""The parsed task list: immutable values that the planner reads and never changes."""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Mapping


class TaskStatus(str, enum.Enum):
    """Execution status of a task; the values are the strings stored in state.json."""

    PENDING = "pending"
    RUNNING = "running"
    # Its action ran and opened a time window (a validation watched for hours): nothing runs it
    # again; `gitops evaluate-windows` evaluates it once the window has ended (gitops.plan.windows).
    WAITING = "waiting"
    # Executed with no failed check; its checkpoint (and manual sign-off) is still open.
    AWAITING_APPROVAL = "awaiting_approval"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class CheckStatus(str, enum.Enum):
    """Result of one Done-when criterion."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    MANUAL = "manual"


class GateStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class GateKind(str, enum.Enum):
    CHECKPOINT = "checkpoint"  # after a task, named by the task: "1.1"
    PHASE = "phase"  # before a phase other than the first: "phase-2"
    DEPLOY = "deploy"  # before a production task runs: "deploy-6.1"


_GATE_PREFIX = {GateKind.PHASE: "phase-", GateKind.DEPLOY: "deploy-"}


@dataclass(frozen=True)
class Gate:
    """A gate id, the key of `state["gates"]` and what `gitops approve` takes, as a value."""

    kind: GateKind
    subject: str  # the task id, or the phase number as written

    @classmethod
    def parse(cls, text: str) -> Gate:
        """`phase-2`, `deploy-6.1` or a task id; anything else is a checkpoint of that name."""
        if text.startswith("phase-") and text.removeprefix("phase-").isdigit():
            return cls(GateKind.PHASE, text.removeprefix("phase-"))
        if text.startswith("deploy-") and len(text) > len("deploy-"):
            return cls(GateKind.DEPLOY, text.removeprefix("deploy-"))
        return cls(GateKind.CHECKPOINT, text)

    @classmethod
    def checkpoint(cls, task_id: str) -> Gate:
        return cls(GateKind.CHECKPOINT, task_id)

    @classmethod
    def phase(cls, number: int) -> Gate:
        return cls(GateKind.PHASE, str(number))

    @classmethod
    def deploy(cls, task_id: str) -> Gate:
        return cls(GateKind.DEPLOY, task_id)

    @property
    def id(self) -> str:
        return _GATE_PREFIX.get(self.kind, "") + self.subject

    @property
    def phase_number(self) -> int:
        """The phase a phase gate opens."""
        if self.kind is not GateKind.PHASE:
            raise ValueError(f"{self.id} is not a phase gate")
        return int(self.subject)

    def __str__(self) -> str:
        return self.id


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One lint finding, printed compiler style: `PATH:LINE: error: message`."""

    path: str
    line: int
    severity: Severity
    message: str
    # A warning that `gitops lint --strict` reports as an error (the seed dialect's rules).
    strict: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity.value}: {self.message}"


@dataclass(frozen=True)
class Criterion:
    """One `- [ ]` item under **Done when** (or a synonym), or under a further criteria field."""

    text: str
    line: int
    checked: bool = False
    # "done_when": what the task's checks prove; else the further field's key ("quality_gates",
    # "testing_requirements", "testing", "ci_gates"), shown but not yet checked by the runner.
    kind: str = "done_when"


@dataclass(frozen=True)
class ExternalDependency:
    """Something a task needs that is not a task of this list: recorded and shown, not waited on."""

    kind: str  # "phase" (Phase 1 completion), "backlog" (B-1006-A completion), "text" (DB reachable)
    text: str  # as written


@dataclass(frozen=True)
class Task:
    id: str  # as written: "1.1", "T-1.1", "A1" (numeric ids as numbers: "01.2" is "1.2")
    title: str
    phase: int  # the Phase heading's number; without one, the id's (`T-2.1`: 2) or 1
    line: int  # line of the task heading (or of the first field for an implicit task)
    priority: str | None = None
    estimated_time: str | None = None
    dependencies: tuple[str, ...] = ()
    status_mark: str = " "  # " " to do, "x" done, "!" blocked, "-" skipped/deferred (**Status** or heading)
    auto_advance: bool | None = None  # None: not given, the header's default applies
    pause_after: bool | None = None
    when_ready_prompt: str | None = None
    do: tuple[str, ...] = ()
    done_when: tuple[Criterion, ...] = ()
    further_criteria: tuple[Criterion, ...] = ()  # Quality Gates, Testing Requirements, ...: by kind
    external_dependencies: tuple[ExternalDependency, ...] = ()
    run: str | None = None  # the **Run**: `command` extension
    implicit: bool = False  # body found under a phase heading with no task heading
    field_lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def all_criteria(self) -> tuple[Criterion, ...]:
        """Done when first, then the further criteria: the order of a task's check records."""
        return self.done_when + self.further_criteria


@dataclass(frozen=True)
class Phase:
    number: int
    title: str
    line: int
    task_ids: tuple[str, ...] = ()

    @property
    def gate_id(self) -> str:
        """The gate that opens this phase (locally; on GitHub: merging the previous phase's PR)."""
        return Gate.phase(self.number).id

    @property
    def is_production(self) -> bool:
        return "production" in self.title.lower()


@dataclass(frozen=True)
class HotFixTemplate:
    """The task list's HotFix section, with `<n>`, `<short description>`, `[failed_task_id]` placeholders."""

    heading: str
    body: str
    line: int


@dataclass(frozen=True)
class Header:
    project: str | None = None
    total_tasks: int | None = None  # "**Total Tasks**: 10 tasks across 5 phases"
    total_phases: int | None = None
    auto_advance: bool | None = None
    pause_after: bool | None = None
    line_of: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    estimated_time: str | None = None  # "**Estimated Time**: 12 hours", as written
    estimated_hours: float | None = None  # the same in hours, when it reads as hours


@dataclass(frozen=True)
class SafetyRules:
    """The task list's "Safety Rules" as policy (neutral defaults when the list has none)."""

    max_consecutive_failures: int = 2
    pause_keywords: tuple[str, ...] = ()  # the seed's rules give ("database", "deploy")
    critical_needs_person: bool = False  # the seed's "Human Checkpoints" make it True


@dataclass(frozen=True)
class TaskList:
    path: str
    title: str
    header: Header
    phases: tuple[Phase, ...]
    tasks: Mapping[str, Task]  # in task-list order
    hotfix_template: HotFixTemplate | None = None
    initial_state: Mapping[str, object] | None = None  # the "Current State" JSON block
    initial_state_line: int | None = None  # line of the ```json fence
    # line of each top-level key in that block, so a warning can point at `"total_tasks": 8`
    initial_state_lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    quality_gates: tuple[str, ...] = ()
    safety: SafetyRules = SafetyRules()
    sha256: str = ""

    @cached_property
    def production_tasks(self) -> frozenset[str]:
        """Ids of the tasks in production phases, which run only after an approval (plan.policy).
        Kept: the planner asks for every task on every transition (cached_property writes the
        instance's __dict__, which a frozen dataclass allows)."""
        return frozenset(t for p in self.phases if p.is_production for t in p.task_ids)

    @property
    def project(self) -> str:
        """The project's name, state.json's `project` key: the file name (`migration/B-1006.md` -> `B-1006`)."""
        return Path(self.path).stem

    @property
    def slug(self) -> str:
        """The project in names GitHub and git accept: workflow file, environments, branches (`b-1006`)."""
        return project_slug(self.path)


def project_slug(tasklist_path: str) -> str:
    """`migration/B-1006.md` -> `b-1006`: lower case, runs of other characters as one `-`."""
    return re.sub(r"[^a-z0-9_.-]+", "-", Path(tasklist_path).stem.lower()).strip("-") or "tasklist"
