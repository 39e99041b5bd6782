"""The handler contract: how a task is carried out and how each Done-when criterion is checked.

A handler is an idempotent action plus one check per criterion. Checks return evidence
(a measured number, a file, a diff); a bare `True` is not accepted. Handlers are found
through a light registry module named in `[tool.gitops] handlers`, whose `HANDLERS`
maps task ids to `"module:attribute"` strings, so that `gitops lint` and `gitops status`
can know which tasks have a handler without importing heavy code (dspy, mlflow).
"""
from __future__ import annotations

import importlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Collection, Mapping

from gitops.errors import BadInput
from gitops.forge.incidents import Incident, IncidentLog
from gitops.model import CheckStatus, Task


@dataclass(frozen=True)
class Check:
    """The result of one Done-when criterion, with the evidence that backs it."""

    status: CheckStatus
    evidence: str
    metrics: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def passed(cls, evidence: str, **metrics: float) -> "Check":
        return cls(CheckStatus.PASSED, evidence, metrics)

    @classmethod
    def failed(cls, evidence: str, **metrics: float) -> "Check":
        return cls(CheckStatus.FAILED, evidence, metrics)

    @classmethod
    def skipped(cls, reason: str) -> "Check":
        return cls(CheckStatus.SKIPPED, reason)

    @classmethod
    def manual(cls, what_to_check: str) -> "Check":
        """A criterion a person signs off at the task's checkpoint."""
        return cls(CheckStatus.MANUAL, what_to_check)


@dataclass(frozen=True)
class TaskResult:
    """What one execution of a task produced; the planner records it in state."""

    checks: list[dict[str, Any]]
    error: str | None = None
    updates: Mapping[str, Any] = field(default_factory=dict)
    log: str | None = None  # path of the full log, when there is one
    # Files the handler attached (TaskContext.attach), as it named them; the tracker vets each
    # (gitops/tracking/artifacts.py) before it logs it into the task's MLflow run.
    artifacts: tuple[str, ...] = ()
    # Set when the action opened a time window that is evaluated later (Window, scheduled): the
    # window's length in seconds, and nothing is checked yet. None: the result is complete.
    window_seconds: float | None = None
    # Incidents the handler reported (TaskContext.incidents): the engine opens them as forge issues.
    incidents: tuple[Incident, ...] = ()

    @property
    def failed(self) -> bool:
        return self.error is not None or any(c["status"] == CheckStatus.FAILED.value for c in self.checks)


@dataclass
class TaskContext:
    """What a handler may use: the task, where to work, the attempt, the environment."""

    task: Task
    root: Path  # the repository root: commands run here
    workdir: Path  # a per-task folder for artifacts and logs (.gitops/work/<id>)
    attempt: int
    environ: Mapping[str, str]
    state: Mapping[str, Any]  # a read-only snapshot of state.json before the task ran
    log: Callable[[str], None] = print
    artifacts: list[str] = field(default_factory=list)
    # Where a window (Window) ends: False, in this process (`wait` sleeps through it, the evaluation
    # follows); True, on a schedule (on GitHub: the task waits and the windows workflow evaluates it).
    scheduled_windows: bool = False
    wait: Callable[[float], None] = time.sleep
    # Where a handler reports an incident (an IssueWriter): the engine opens each as a forge issue;
    # with no write token (a task job on GitHub) it is handed over and the recording job opens it.
    incidents: IncidentLog = field(default_factory=IncidentLog)

    def attach(self, path: Path | str) -> None:
        """Keep the file `path` (under the repository, e.g. a plot in the workdir) with the task's MLflow run."""
        self.artifacts.append(str(path))


# An action returns state updates for the shared keys a task may own
# (performance_metrics, compatibility_issues, rollback_ready, test_results) or None.
Action = Callable[[TaskContext], "Mapping[str, Any] | None"]
CheckFn = Callable[[TaskContext], Check]


@dataclass(frozen=True)
class Window:
    """A time window the task watches after its action, before its checks (gitops.plan.windows).

    `length` says how long for this context (it may differ where windows are scheduled: hours on
    GitHub, a short window locally); `evaluate` measures what the window saw and returns state
    updates, as an action does; the checks run after it.
    """

    length: Callable[[TaskContext], float]  # seconds
    evaluate: Action


@dataclass(frozen=True)
class Handler:
    """An idempotent action and the checks of a task's criteria, keyed by criterion text.

    A key matches the criterion whose text starts with it (case and emphasis ignored);
    criteria with no matching check are manual. With a `window`, the checks wait for it.
    """

    action: Action
    checks: Mapping[str, CheckFn]
    window: Window | None = None


def normalize(text: str) -> str:
    """Lower-case, drop Markdown emphasis and collapse spaces, for matching criteria."""
    text = re.sub(r"[*_`]", "", text).lower()
    return " ".join(text.split())


def match_checks(handler: Handler, task: Task) -> tuple[list[CheckFn | None], list[str]]:
    """Pair each criterion (Done when, then the further ones) with its check; also return keys that
    match no criterion."""
    keys = {normalize(key): fn for key, fn in handler.checks.items()}
    used: set[str] = set()
    paired: list[CheckFn | None] = []
    for criterion in task.all_criteria:
        text = normalize(criterion.text)
        found = next((k for k in keys if text.startswith(k) and k not in used), None)
        if found is not None:
            used.add(found)
        paired.append(keys[found] if found is not None else None)
    unmatched = [k for k in handler.checks if normalize(k) not in used]
    return paired, unmatched


class RegistryError(Exception):
    """A registry entry that names no Handler: not "module:attribute", a missing attribute, or
    another kind of object. Import failures stay ImportError (or whatever the module raised)."""


class Registry:
    """Task id -> handler reference, loaded from a light module; handlers import lazily."""

    def __init__(self, refs: Mapping[str, str], module: str | None = None, deployments: Collection[str] = (),
                 rollbacks: Mapping[str, str] | None = None, windows: Collection[str] = ()):
        # Read-only: what runs a task is fixed once the registry is made (Runner.runnable keeps it).
        self.refs: Mapping[str, str] = MappingProxyType(dict(refs))
        self._ids = frozenset(self.refs)
        self.module = module  # the registry module's name, for messages that say where to fix an entry
        # Tasks whose execution deploys production: the engine records a forge deployment around
        # each (gitops.run.deploying); the module's optional DEPLOYMENTS, a collection of task ids.
        self.deployments = frozenset(deployments)
        # Per deploying task, the shell command that rolls its production back (gitops.run.rollback).
        self.rollbacks = dict(rollbacks or {})
        # Tasks whose handler declares a Window: on GitHub the windows workflow is rendered for them
        # (gitops.github.windows_workflow); the module's optional WINDOWS, a collection of task ids.
        self.windows = frozenset(windows)

    @classmethod
    def from_module(cls, module_name: str | None) -> "Registry":
        if not module_name:
            return cls({})
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise BadInput(
                f"handlers module {module_name!r} cannot be imported ({exc}). "
                "Fix [tool.gitops] handlers in pyproject.toml or install the project "
                "(scripts/bootstrap)."
            ) from exc
        refs = getattr(module, "HANDLERS", None)
        if not isinstance(refs, Mapping):
            raise BadInput(f"{module_name} has no HANDLERS mapping of task id -> 'module:attribute'.")
        deployments = getattr(module, "DEPLOYMENTS", ())
        if isinstance(deployments, str) or not all(isinstance(t, str) and t in refs for t in deployments):
            raise BadInput(f"{module_name}.DEPLOYMENTS must be a collection of task ids that HANDLERS names, "
                           f"e.g. ('6.1',); it is {deployments!r}. Fix it in the module.")
        rollbacks = getattr(module, "ROLLBACKS", {})
        if not (isinstance(rollbacks, Mapping) and all(t in deployments and isinstance(c, str) and c.strip()
                                                       for t, c in rollbacks.items())):
            raise BadInput(f"{module_name}.ROLLBACKS must map task ids of DEPLOYMENTS to shell commands, e.g. "
                           f"{{'6.1': 'scripts/production rollback'}}; it is {rollbacks!r}. Fix it in the module.")
        windows = getattr(module, "WINDOWS", ())
        if isinstance(windows, str) or not all(isinstance(t, str) and t in refs for t in windows):
            raise BadInput(f"{module_name}.WINDOWS must be a collection of task ids that HANDLERS names, "
                           f"e.g. ('6.2',); it is {windows!r}. Fix it in the module.")
        return cls(refs, module_name, deployments, rollbacks, windows)

    def ids(self) -> frozenset[str]:
        return self._ids

    def resolve(self, task_id: str) -> Handler:
        """Import the handler of a task (this may import heavy libraries)."""
        ref = self.refs[task_id]
        module_name, colon, attribute = ref.partition(":") if isinstance(ref, str) else ("", "", "")
        if not (module_name and colon and attribute):
            raise RegistryError(f"{ref!r} is not a 'module:attribute' string")
        module = importlib.import_module(module_name)
        try:
            handler = getattr(module, attribute)
        except AttributeError:
            raise RegistryError(f"{module_name} has no attribute {attribute!r}") from None
        if not isinstance(handler, Handler):
            raise RegistryError(f"{ref} is a {type(handler).__name__}, not a gitops.handlers.Handler")
        return handler
