"""From configuration to a running engine: the task list, its forge, state store, tracker."""
from __future__ import annotations

import datetime as dt
import getpass
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from gitops import extras
from gitops.config import Config
from gitops.errors import BadInput, TaskListError
from gitops.model import Diagnostic, Severity, TaskList
from gitops.ui.terminal import RichUI

if TYPE_CHECKING:
    from gitops.handlers import Registry


@dataclass
class Context:
    config: Config
    tracking_note: str | None = None  # why this command does not track (set by `tracker`)

    def tasklist(self, path: Path | None = None, handlers: bool = False,
                 strict: bool = False) -> tuple[TaskList, list[Diagnostic]]:
        """Parse and lint. `handlers`: also import every registered handler and match its checks
        to its task's criteria (slow: a handler may import dspy; `status`/`plan`/`run` never do).
        `strict`: the seed dialect's rules (a task without Done-when criteria is an error)."""
        from gitops.state import document
        from gitops.tasklist import handler_lint, lint, parser

        tasklist, diagnostics = parser.load(path or self.config.tasklist)
        registry = self.registry(tasklist)
        found: list[Diagnostic] = document.block_diagnostics(tasklist)  # what `run` would refuse
        if registry is not None:
            found.extend(handler_lint.registry_diagnostics(tasklist, registry))
            if handlers:
                found.extend(handler_lint.handler_diagnostics(tasklist, registry))
        ids = registry.ids() if registry is not None else None
        return tasklist, lint.lint(tasklist, diagnostics, ids, found, strict=strict)

    def registry(self, tasklist: TaskList) -> Registry | None:
        """The handler registry of the configured task list; None for any other task list."""
        if Path(tasklist.path).resolve() != self.config.tasklist:
            return None  # the configured handlers belong to the configured task list only
        from gitops.handlers import Registry

        return Registry.from_module(self.config.handlers)

    def runner(self, console, post_progress: bool | None = None, task_work: bool = False, hand_over: bool = False):
        """The engine for the configured task list, forge and state store.

        `task_work` (a workflow's task job): on GitHub the checkout first takes in its phase
        branch, and the task's changed files go into the phase branch with its state.
        `hand_over` (a task job without a write token): the same, but nothing is pushed or posted;
        the state changes stay in this job's copy (gitops.state.handover_store) for the recording job.
        """
        from gitops.forge.local import LocalForge
        from gitops.handlers import Registry
        from gitops.run.runner import Runner

        tasklist = self.checked_tasklist()
        root = repo_root(self.config.root)
        github = self.config.forge == "github"
        if github:
            from gitops.github.commands import (
                forge_for,  # PyGithub itself loads on the first API call
            )
            from gitops.github.run_status import RunStatus

            forge = forge_for(tasklist, os.environ)
            run_fate = RunStatus(forge.settings, lambda: forge.gh)  # runs may overlap: ask GitHub
        else:
            from gitops.plan.stale import serialised_runs

            forge = LocalForge(self.config.work_dir / "forge")
            run_fate = serialised_runs  # asked only inside a workflow (gitops.plan.stale)
        tracker = self.tracker(root)
        if hand_over and not github:
            raise BadInput("--hand-over is for a workflow's task job: it needs --forge github.")
        store = self.git_store(tasklist, root, worktree=task_work and not hand_over) if github else None
        source = store
        if hand_over:
            from gitops.state.handover_store import HandOverStore

            store = HandOverStore(source, self.config.work_dir / "handover" / "state.json")
        return Runner(
            tasklist=tasklist,
            state_path=self.config.state,
            root=root,
            work_dir=self.config.work_dir,
            forge=forge,
            registry=Registry.from_module(self.config.handlers),
            ui=RichUI(console),
            environ=dict(os.environ),
            clock=now,
            store=store,
            post_progress=not github if post_progress is None else post_progress,
            tracker=tracker,
            step_text=self.github_step_text(tasklist) if github else None,
            run_link=self.run_link(root) if tracker is not None else None,
            prepare=source.sync_worktree if source is not None and (task_work or hand_over) else None,
            hands_over=hand_over,
            run_fate=run_fate,
            # On GitHub a handler's time window is evaluated by the scheduled windows workflow (a job
            # that waited a day would outlive GitHub's 6-hour job limit); locally it elapses in the run.
            scheduled_windows=github,
        )

    def github_step_text(self, tasklist: TaskList):
        from gitops.github.commands import step_text
        from gitops.github.run_url import current_run_url

        return step_text(tasklist.slug, current_run_url(os.environ))

    def run_link(self, root: Path):
        from gitops.tracking.tracker import (  # light: mlflow itself is not imported
            run_link,
            tracking_uri,
        )

        uri = tracking_uri(root, os.environ)
        return lambda run_id: run_link(uri, None, run_id)

    def tracker(self, root: Path):
        """MLflow tracking, per GITOPS_TRACKING (see `tracking_mode`); cheap to make: mlflow loads
        on the first logged task.

        The engine installs without mlflow (the [mlflow] extra), so by default tracking follows
        the install: off with a one-line note when mlflow is missing. Asked for explicitly
        (GITOPS_TRACKING=on), a missing mlflow is an error that names the extra: silently not
        tracking what someone set up to track would lose the runs. GITOPS_TRACKING alone
        decides: an MLFLOW_TRACKING_URI left in a shell for another project does not.
        """
        mode = tracking_mode(os.environ)
        if mode == "off":
            return None
        if not extras.installed("mlflow"):
            if mode == "on":
                extras.require("mlflow", "MLflow tracking (GITOPS_TRACKING=on)", otherwise="set GITOPS_TRACKING=off")
            self.tracking_note = (
                f"note: MLflow tracking is off: mlflow is not installed "
                f"({extras.install_command('mlflow')} turns it on; GITOPS_TRACKING=off hides this note)"
            )
            return None
        from gitops.tracking.tracker import MlflowTracker

        return MlflowTracker(root=root, environ=dict(os.environ))

    def checked_tasklist(self) -> TaskList:
        """The task list, refused when it has errors."""
        tasklist, diagnostics = self.tasklist()
        errors = [d for d in diagnostics if d.severity is Severity.ERROR]
        if errors:
            listing = "\n".join(str(d) for d in errors[:10])
            raise TaskListError(f"{listing}\n{len(errors)} error(s) in the task list: fix them (see `gitops lint`).")
        return tasklist

    def git_store(self, tasklist: TaskList, root: Path, worktree: bool = False):
        """On GitHub, state.json lives on the phase branch: each write is a commit pushed there
        (with the checkout's changed files, when `worktree`)."""
        from gitops.state.git_auth import github_auth_env
        from gitops.state.phase_branches import phase_store

        env = os.environ
        if not env.get("GITHUB_TOKEN"):
            raise BadInput("--forge github needs GITHUB_TOKEN to push state commits; set it (in a workflow: "
                           "env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}) or use --forge local.")
        if not self.config.state.is_relative_to(root.resolve()):
            raise BadInput(f"--state {self.config.state} is outside the checkout ({root}): with --forge github the "
                           "state is committed to the repository. Pass a path inside the checkout (default: "
                           "state.json), or use --forge local.")
        return phase_store(
            root,
            tasklist.slug,
            [p.number for p in tasklist.phases],
            path=str(self.config.state.relative_to(root.resolve())),
            local_path=self.config.state,
            environ=github_auth_env(env["GITHUB_TOKEN"], env.get("GITHUB_SERVER_URL", "https://github.com")),
            author=("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com"),
            worktree=worktree,
            # The workflow sets it from github.event.repository.default_branch: not every repository's is main.
            base=env.get("GITOPS_DEFAULT_BRANCH") or "main",
        )

    def tasklist_ref(self, tasklist: TaskList) -> str:
        """The task list's path from the repository root (as workflows and state.json name it)."""
        path = Path(tasklist.path).resolve()
        try:
            return str(path.relative_to(repo_root(self.config.root).resolve()))
        except ValueError:
            return str(path)


TRACKING_OFF = frozenset({"off", "0", "false", "no"})
TRACKING_ON = frozenset({"on", "1", "true", "yes"})


def tracking_mode(environ: Mapping[str, str]) -> str:
    """GITOPS_TRACKING as "on", "off" or "auto" (unset or empty: auto, on when mlflow is installed)."""
    value = environ.get("GITOPS_TRACKING", "").strip().lower()
    if value in TRACKING_OFF:
        return "off"
    if value in TRACKING_ON:
        return "on"
    if value in ("", "auto"):
        return "auto"
    raise BadInput(f"GITOPS_TRACKING is {environ['GITOPS_TRACKING']!r}: set it to on, off or auto "
                   "(auto, the default: track when mlflow is installed).")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def repo_root(fallback: Path) -> Path:
    """The git top level (where **Run** commands run), else the project folder."""
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, cwd=fallback)
    except OSError:
        return fallback
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else fallback


def default_approver() -> str:
    name = os.environ.get("GITOPS_APPROVER")
    if name:
        return name
    try:
        out = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except OSError:
        pass
    return getpass.getuser()
