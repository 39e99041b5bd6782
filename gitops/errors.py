"""One error base; the command line maps it to an exit code and prints its message."""
from __future__ import annotations


class GitopsError(Exception):
    """An error a person can act on. The message names the place and the next step."""

    exit_code = 1


class BadInput(GitopsError):
    """Unreadable task list, corrupt state, bad usage: exit 2."""

    exit_code = 2


class TaskListError(BadInput):
    """The task list cannot be parsed at all (missing file, not UTF-8, no tasks)."""


class StateError(BadInput):
    """state.json is corrupt or invalid; the file is left untouched."""


class UsageError(BadInput):
    """A command was asked for something that does not apply (unknown task, gate not waiting)."""


class PipelineStopped(GitopsError):
    """The pipeline is paused by a HotFix or halted; exit 1."""


class WorkNotPushed(GitopsError):
    """The files a task changed could not go to its phase branch; the store then records the state alone."""


class MissingExtra(BadInput):
    """A feature's optional dependencies are not installed; the message names the extra (gitops/extras.py)."""
