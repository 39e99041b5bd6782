"""Where a task's code runs: its handler in this process or apart from the engine's credentials,
its **Run** command, or nobody (manual work); and a waiting task's window evaluation, likewise.

Apart from the runner, which records what comes back: this module only chooses how task code is
started (gitops.run.execute runs it, gitops.run.handler_process runs a handler apart) and with
what it is started (a work folder, an environment without credentials, a read-only state).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from gitops.forge.incidents import IncidentLog
from gitops.handlers import Check, Registry, TaskContext, TaskResult
from gitops.model import Task, TaskList
from gitops.run import history_commits, identity
from gitops.run.execute import all_checks, run_command, run_manual, run_registered
from gitops.run.handler_process import run_apart
from gitops.run.signals import signal_name
from gitops.run.task_env import holds_credentials, task_environment
from gitops.state import document


@dataclass(frozen=True)
class TaskCode:
    """What task code is started with; the runner makes one for each execution."""

    tasklist: TaskList
    registry: Registry
    root: Path  # commands run here
    work_dir: Path  # .gitops/ beside state.json
    environ: Mapping[str, str]
    whoami: Mapping[str, Any]
    note: Callable[[str], None]
    incidents: IncidentLog
    scheduled_windows: bool = False
    sleep: Callable[[float], None] = time.sleep

    def execute(self, task_id: str, state: Mapping[str, Any], attempt: int) -> TaskResult:
        """Run the task's handler, its **Run** command, or hand it to a person."""
        task = self.tasklist.tasks[task_id]
        workdir = self.work_dir / "work" / task_id
        # Task code gets the environment without the engine's credentials (run/task_env.py).
        environ = task_environment(self.environ)
        history_commits.clear(workdir)  # a hand-over carries this attempt's history only
        if task_id in self.registry.ids():
            return self._handler(task_id, task, workdir, attempt, environ, state, evaluation=False)
        if task.run:
            log = self.work_dir / "logs" / f"task-{task_id}-attempt-{attempt}.log"
            marked = {**environ, identity.RUNNER_ENV: self.whoami.get("process") or ""}
            return run_command(task, self.root, log, marked)
        return run_manual(task)

    def evaluate_window(self, task_id: str, state: Mapping[str, Any]) -> TaskResult:
        """Run the window evaluation and checks of a waiting task's handler (gitops.run.windows), apart
        from the engine's credentials as an execution is."""
        task, attempt = self.tasklist.tasks[task_id], state["tasks"][task_id]["attempts"]
        if task_id not in self.registry.ids():  # a state from elsewhere, or a registry entry removed since
            return TaskResult(all_checks(task, Check.skipped("not checked: no handler to evaluate the window")),
                              f"Task {task_id} waits for a window, but the handler registry has no handler for it "
                              "to evaluate the window with; register it again, or retry the task")
        workdir = self.work_dir / "work" / task_id
        environ = task_environment(self.environ)
        history_commits.clear(workdir)  # a hand-over carries this evaluation's history only
        return self._handler(task_id, task, workdir, attempt, environ, state, evaluation=True)

    def interruption(self, task_id: str, stop: BaseException) -> str:
        """Why the task failed when Ctrl-C or SIGTERM stopped gitops while it ran (its command's
        process group, or its handler's process, is already ended)."""
        ended = "; the task's processes were ended" if task_id not in self.registry.ids() or self._apart() else ""
        who = f"pid {self.whoami['pid']} on {self.whoami['host']}"
        return f"interrupted by {signal_name(stop)}: gitops ({who}) was stopped while the task ran{ended}"

    def _handler(self, task_id: str, task: Task, workdir: Path, attempt: int, environ: Mapping[str, str],
                 state: Mapping[str, Any], evaluation: bool) -> TaskResult:
        workdir.mkdir(parents=True, exist_ok=True)
        if self._apart():
            # In this process the handler could read them from os.environ: it runs apart.
            return run_apart(self.registry.refs[task_id], task, self.root, workdir, attempt, environ, state,
                             self.note, self.scheduled_windows, evaluation=evaluation)
        # A view: the state's records are shared with the state file's cache (document.derive).
        ctx = TaskContext(task, self.root, workdir, attempt, environ, document.read_only(state), self.note,
                          scheduled_windows=self.scheduled_windows, wait=self.sleep, incidents=self.incidents)
        return run_registered(self.registry, ctx, evaluation=evaluation)

    def _apart(self) -> bool:
        """The engine holds credentials (passed in, or in this process's environment): handlers run apart."""
        return holds_credentials(self.environ) or holds_credentials(os.environ)
