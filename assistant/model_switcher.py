"""ModelSwitcher: one LM per task type and role, switched per thread with `dspy.context`.

`dspy.configure()` sets a process-wide LM and raises RuntimeError when called from any
thread but the first one that called it (DSPy 2.6 and 3.0 alike). `dspy.context(lm=...)`
is scoped to the current thread (a contextvar in 3.0), so concurrent requests can each
use their own model. The switcher never calls `dspy.configure()`.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import Enum

import dspy

from assistant.lm import LM_VARIABLE, lm_label, make_lm

ANY_ROLE = "*"


class TaskType(str, Enum):
    """The kinds of work the assistant routes to a model."""

    QA = "qa"
    ROLE_REFINEMENT = "role_refinement"
    OPTIMIZATION = "optimization"
    EVALUATION = "evaluation"


Route = tuple[TaskType, str]  # (task type, role or ANY_ROLE)


class ModelSwitcher:
    """Picks the LM for a (task type, role) pair: exact route, then the task's `*`, then default."""

    def __init__(self, default: dspy.LM, routes: Mapping[Route, dspy.LM] | None = None) -> None:
        self.default = default
        self.routes: dict[Route, dspy.LM] = dict(routes or {})

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ModelSwitcher:
        """Default from `GITOPS_LM`; `GITOPS_LM_<TASK>` (e.g. GITOPS_LM_QA) overrides one task."""
        env = os.environ if environ is None else environ
        routes: dict[Route, dspy.LM] = {}
        for task in TaskType:
            variable = f"{LM_VARIABLE}_{task.name}"
            if env.get(variable, "").strip():
                routes[(task, ANY_ROLE)] = make_lm(env, variable=variable)
        return cls(make_lm(env), routes)

    def lm_for(self, task: TaskType, role: str = ANY_ROLE) -> dspy.LM:
        """The LM for `task` done in `role`."""
        for route in ((task, role), (task, ANY_ROLE)):
            if route in self.routes:
                return self.routes[route]
        return self.default

    def label(self, task: TaskType, role: str = ANY_ROLE) -> str:
        """The name reports give the LM used for `task` in `role`."""
        return lm_label(self.lm_for(task, role))

    @contextmanager
    def use(self, task: TaskType, role: str = ANY_ROLE) -> Iterator[dspy.LM]:
        """Make the routed LM current for this thread inside the `with` block."""
        lm = self.lm_for(task, role)
        with dspy.context(lm=lm):
            yield lm
