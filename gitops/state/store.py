"""Where state.json lives: a file on this machine, or a branch of the git remote (git_store)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, ContextManager, Protocol

from gitops.state import file as state_io


class StateStore(Protocol):
    """Read the newest state; apply a change to the newest state without losing anyone's update."""

    def read(self) -> dict | None: ...

    def update(self, change: Callable[[dict], dict], create: Callable[[], dict] | None = None) -> dict: ...

    def journaled(self) -> ContextManager[None]:
        """Within: a run of many transitions, written as cheaply as the store can (gitops.state.journal)."""


class LocalStore:
    """state.json on disk, under a file lock (several local processes may write it)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def read(self) -> dict | None:
        return state_io.load(self.path)

    def update(self, change: Callable[[dict], dict], create: Callable[[], dict] | None = None) -> dict:
        return state_io.update(self.path, change, create=create)

    def journaled(self) -> ContextManager[None]:
        return state_io.journaled(self.path)
