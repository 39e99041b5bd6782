"""The state store of a workflow's task job: it reads the phase branch and never writes to it.

The job that runs task code holds no write token (docs/github.md, *What task code can reach*),
so its state changes (the task started, its result, a production approval read from the run)
are kept in a file of its own work folder, seeded once from the newest state on the phase
branch. The job then hands its result over (gitops.run.handover) and the workflow's recording
job, which runs no task code, commits it.
"""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Callable, ContextManager

from gitops.state.store import LocalStore, StateStore


class HandOverStore:
    """`source`'s newest state, read once; every update stays in `path` (this job's copy)."""

    def __init__(self, source: StateStore, path: Path):
        self.source = source
        self.copy = LocalStore(path)

    def read(self) -> dict | None:
        if self.copy.path.exists():  # a later step of the same job sees what an earlier one changed
            return self.copy.read()
        return self.source.read()

    def update(self, change: Callable[[dict], dict], create: Callable[[], dict] | None = None) -> dict:
        if not self.copy.path.exists():
            seed = self.source.read()
            if seed is not None:
                self.copy.update(lambda _: seed, create=lambda: seed)
        return self.copy.update(change, create=create)

    def journaled(self) -> ContextManager[None]:
        return nullcontext()  # a job's one or two transitions: each is written whole
