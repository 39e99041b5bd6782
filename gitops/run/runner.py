"""The runner: carries out what the planner decides, one state transition at a time.

Every transition goes through `state.update` (lock, re-read, apply, atomic write), so the
result of a task is in state.json before anything is posted; forge notifications that fail
are reported and sent again on the next command, never lost.

The runner coordinates; what it hands off lives beside it: gitops.run.dispatch starts task code,
gitops.run.finished makes a result's Finished event, gitops.run.redaction redacts what is
recorded, gitops.run.notices writes to the forge, gitops.run.outcome is what a command returns.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from gitops.errors import UsageError, WorkNotPushed
from gitops.forge import incidents
from gitops.forge.base import Forge
from gitops.github import job_summary as actions_log
from gitops.github.run_url import current_run_url
from gitops.handlers import Check, Registry, TaskResult
from gitops.model import TaskList, TaskStatus
from gitops.plan import planner, readiness, summary, transitions
from gitops.plan.drift import drifted_tasks
from gitops.plan.planner import Step, StepKind
from gitops.plan.stale import Fate, RunFate, Stale, serialised_runs, stale_step, stale_tasks
from gitops.redact import Redactor
from gitops.run import identity, notices
from gitops.run.deploying import DeploymentLog
from gitops.run.dispatch import TaskCode
from gitops.run.execute import all_checks
from gitops.run.finished import finished_event, tracked
from gitops.run.outcome import EXIT_OK, Outcome, exit_for
from gitops.run.protocols import UI, Tracker
from gitops.run.redaction import redacted_event, redacted_result
from gitops.run.signals import Terminated, signal_name
from gitops.state import document
from gitops.state.store import LocalStore, StateStore


@dataclass
class Runner:
    tasklist: TaskList
    state_path: Path
    root: Path  # commands run here
    work_dir: Path  # .gitops/ beside state.json
    forge: Forge
    registry: Registry
    ui: UI
    environ: Mapping[str, str]
    clock: Callable[[], str]
    tracker: Tracker | None = None
    store: StateStore | None = None  # default: LocalStore(state_path)
    # On GitHub only the report job may write to the phase PR; task and gate jobs leave it alone.
    post_progress: bool = True
    # How the next step reads where people act (GitHub: which environment or PR), and a task's
    # MLflow run as a link; both default to the plain local forms.
    step_text: Callable[[Step], str] | None = None
    run_link: Callable[[str], str] | None = None
    # A task job's set-up before its task starts (GitHub: merge the phase branch into the
    # checkout); returns what it did. Raising WorkNotPushed fails the task with its message.
    prepare: Callable[[], str] | None = None
    tasklist_changed: bool = False  # set by current(): state.json was written for another version
    # Who this process is, as a task record names its runner, and what became of a recorded local
    # runner (gitops.run.identity); tests pass their own.
    whoami: Mapping[str, Any] | None = None
    fate: Fate | None = None
    # What became of another workflow run that recorded a running task (GitHub: the API, as runs
    # may overlap); the default assumes runs never overlap.
    run_fate: RunFate = serialised_runs
    # A workflow's task job (no write token): its results are handed over to the recording job,
    # which announces them; nothing is posted from here (gitops.run.recording).
    hands_over: bool = False
    # Where a handler's time window ends (gitops.handlers.Window): False, in this process, which
    # sleeps through it with `sleep` (locally: a short window, the run completes in one go); True,
    # on a schedule: the task waits and `gitops evaluate-windows` evaluates it (on GitHub, whose
    # jobs end after 6 hours and whose windows last a day or two: gitops.run.windows).
    scheduled_windows: bool = False
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        # During `run`, the progress comment is posted where the run stops or waits (see run()),
        # not after every task; `_progress_due` says a task changed it since it was last posted.
        self._progress_held = False
        self._progress_due = False
        self._runnable: tuple[TaskList, Registry, frozenset[str]] | None = None
        if self.store is None:
            self.store = LocalStore(self.state_path)
        self.redactor = Redactor.from_environ(self.environ)
        if self.whoami is None:
            self.whoami = identity.this_runner(self.environ)
        if self.fate is None:
            self.fate = identity.local_fate

    # ------------------------------------------------------------ state
    def new_state(self) -> dict[str, Any]:
        fresh = document.new_state(self.tasklist, self.clock())
        transitions.sync(self.tasklist, fresh)
        return fresh

    def current(self) -> dict[str, Any]:
        """The state on disk (or a fresh one in memory), checked to belong to this task list."""
        found = self.store.read()
        if found is None:
            return self.new_state()
        self._check_owner(found)
        self.tasklist_changed = found.get("tasklist_sha256") != self.tasklist.sha256
        transitions.sync(self.tasklist, found)
        return found

    def _check_owner(self, found: Mapping[str, Any]) -> None:
        mine = self._tasklist_ref()
        if found.get("tasklist") not in (mine, None):
            raise UsageError(
                f"{self.state_path} records the run of {found['tasklist']}, not {mine}. "
                "Pass --state with another file for this task list."
            )

    def _tasklist_ref(self) -> str:
        path = Path(self.tasklist.path)
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def next_step(self, state: Mapping[str, Any]) -> Step:
        """The planner's next step, unless a running task's runner is gone (gitops.plan.stale)."""
        return stale_step(self.stale(state), planner.next_step(self.tasklist, state, self.runnable()))

    def stale(self, state: Mapping[str, Any]) -> list[Stale]:
        """Running tasks of this task list whose runner is gone or cannot be judged from here."""
        try:  # no task of the list runs (counted as records change, gitops.plan.summary): nothing to judge
            if not summary.tally(self.tasklist, state["tasks"]).present[TaskStatus.RUNNING.value]:
                return []
        except KeyError:  # a task without a record (a state of another version of the list): look at all
            pass
        return [s for s in stale_tasks(state, self.whoami, self.fate, self.run_fate) if s.task in self.tasklist.tasks]

    def recover(self) -> list[Stale]:
        """Record every running task whose runner is gone as failed (a HotFix, as any failure).

        Every command that writes the state calls this first, so a task left `running` by kill -9
        or a cancelled job never blocks run, run-task, retry, resume or approve.
        """
        found = self.store.read()
        gone = [s for s in self.stale(found) if s.gone] if found is not None else []
        for stale in gone:
            self.ui.note(f"Task {stale.task} was marked running, but {stale.reason}: recording it as failed.")
            identity.end_orphans(found["tasks"][stale.task].get("runner"), self.whoami, self.ui.note)
            self.transition(transitions.Interrupted(stale.task, stale.attempt, stale.reason))
        return gone

    def transition(self, event: transitions.Event, notify: bool = True) -> tuple[dict[str, Any], list[transitions.Action]]:
        """Apply one event to the newest state on disk; then carry out the planner's actions."""
        actions: list[transitions.Action] = []

        event = redacted_event(event, self.redactor)

        def change(latest: dict[str, Any]) -> dict[str, Any]:
            self._check_owner(latest)
            new, produced = transitions.apply(self.tasklist, latest, event, self.clock())
            actions[:] = produced
            return new

        new = self.store.update(change, create=self._fresh_for_disk)
        if notify:
            self._carry_out(actions, new)
        return new, actions

    def _fresh_for_disk(self) -> dict[str, Any]:
        fresh = self.new_state()
        fresh["tasklist"] = self._tasklist_ref()
        return fresh

    # ------------------------------------------------------------ forge effects
    def _carry_out(self, actions: list[transitions.Action], state: dict[str, Any]) -> None:
        if self.hands_over:
            return
        for action in actions:
            try:
                if isinstance(action, transitions.OpenIssue):
                    self._open_issue(action.hotfix, state)
                elif isinstance(action, transitions.CloseIssue):
                    self.forge.close_issue(f"hotfix:{action.task}", action.comment)
                elif isinstance(action, transitions.PostProgress) and self.post_progress:
                    if self._progress_held:
                        self._progress_due = True
                    else:
                        self._post_progress(state)
            except Exception as exc:  # noqa: BLE001 - the result is in state; only the notice failed
                self.ui.note(f"warning: could not update the forge ({exc}); it is retried on the next command")

    def _open_issue(self, hotfix_id: str, state: dict[str, Any]) -> None:
        notices.open_issue(self.tasklist, self.forge, self.store, hotfix_id, state, self.ui.note)

    def _post_progress(self, state: dict[str, Any]) -> None:
        """The progress comment, its next step as people read it where they act (notices.post_progress)."""
        step = self.next_step(state)
        text = self.step_text(step) if self.step_text else step.message
        notices.post_progress(self.tasklist, self.forge, state, text, self.run_link)

    def report(self) -> Step:
        """Post the progress comment and open the PR of a finished phase (the workflow's report job)."""
        self.flush_notifications()
        self.record_reviews()
        state = self.current()
        self._post_progress(state)
        return self.next_step(state)

    def record_reviews(self) -> list[str]:
        """Record what reviewers decided on the forge at each waiting phase gate (notices.review_decisions).
        Returns the gates changed."""
        changed = []
        for gate, event, said in notices.review_decisions(self.tasklist, self.store.read(), self.forge, self.ui.note):
            self.transition(event)
            changed.append(gate)
            self.ui.note(said)
        return changed

    def flush_notifications(self) -> None:
        """Send the forge notices that failed earlier (notices.unsent)."""
        found = self.store.read()
        self._carry_out(notices.unsent(found), found)

    def open_incidents(self, reported: Sequence[incidents.Incident]) -> None:
        """Open the issues of incidents a task reported, and close the resolved ones (notices.open_incidents)."""
        if self.hands_over or not reported:
            return  # a task job: the recording job opens them (gitops.run.recording)
        notices.open_incidents(reported, self.forge, self.redactor, self.ui.note)

    # ------------------------------------------------------------ commands
    def runnable(self) -> frozenset[str]:
        """Tasks the engine can execute: a registered handler or a **Run** command."""
        kept = self._runnable
        # Asked before every step: kept while the task list and the registry (both read-only) are
        # the same objects (tests replace them on a runner).
        if kept is None or kept[0] is not self.tasklist or kept[1] is not self.registry:
            with_run = {t.id for t in self.tasklist.tasks.values() if t.run}
            found = frozenset(with_run | (self.registry.ids() & set(self.tasklist.tasks)))
            kept = self._runnable = (self.tasklist, self.registry, found)
        return kept[2]

    def plan(self) -> Step:
        return self.next_step(self.current())

    def run(self, approver: str, auto_approve: bool = False, until: str | None = None, only: str | None = None,
            rerun_stale: bool = False) -> Outcome:
        """Execute until finished, a gate nobody approves, a failure or a halt.

        `rerun_stale`: first send every done task whose steps or criteria changed since it ran
        back to pending (gitops.plan.drift); without it they are only shown as stale."""
        for task_id in filter(None, (until, only)):
            self._known(task_id)
        self.flush_notifications()
        self.recover()
        # The progress comment lists every task: posted after each task, it made a task's cost
        # grow with the task list (issue 12). A person reads it where they act, so it is posted
        # where the run waits for one (a gate, a HotFix, a halt) or ends, and at every phase end.
        self._progress_held = True
        try:
            # A run's many transitions are appended to state.json's journal, and state.json is
            # written whole when the run ends (gitops.state.journal): a task's cost stays flat.
            with self.store.journaled():
                return self._run(approver, auto_approve, until, only, rerun_stale)
        finally:
            self._progress_held = False
            if self._progress_due:
                self._post_progress_now()

    def _post_progress_now(self, state: dict[str, Any] | None = None) -> None:
        self._progress_due = False
        try:
            self._post_progress(state if state is not None else self.current())
        except Exception as exc:  # noqa: BLE001 - the result is in state; only the notice failed
            self.ui.note(f"warning: could not update the forge ({exc}); it is retried on the next command")

    def _run(self, approver: str, auto_approve: bool, until: str | None, only: str | None, rerun_stale: bool) -> Outcome:
        if rerun_stale:
            for task_id in drifted_tasks(self.tasklist, self.current()):
                self.transition(transitions.Retried(task_id))
                self.ui.note(f"↻ Task {task_id}: its steps or criteria changed since it ran; it runs again.")
        ran: list[str] = []
        while True:
            state = self.current()
            step = self.next_step(state)
            if self._progress_due and step.kind not in (StepKind.RUN, StepKind.MANUAL):
                self._post_progress_now(state)  # before a gate is passed: its phase PR opens first
            if until and state["tasks"][until]["status"] == TaskStatus.DONE.value:
                return Outcome(step, EXIT_OK, ran, stopped_at=until)
            if only and only in ran:
                return Outcome(step, exit_for(step), ran)
            if only and step.task != only and step.kind in (StepKind.RUN, StepKind.MANUAL):
                reason = readiness.why_not_ready(self.tasklist, state, only) or "another step comes first"
                raise UsageError(f"Task {only} cannot run now: {reason}. Next step: {step.message}")
            if step.kind in (StepKind.RUN, StepKind.MANUAL):
                self.execute(step.task)
                ran.append(step.task)
            elif step.kind is StepKind.GATE and self._pass_gate(step, approver, auto_approve):
                continue
            else:
                return Outcome(step, exit_for(step), ran)

    def _pass_gate(self, step: Step, approver: str, auto_approve: bool) -> bool:
        if auto_approve and not step.unsigned:
            self._approve(step.gate, f"{approver} (--auto-approve)", auto=True)
            return True
        answer = self.ui.confirm(step, approver)
        if answer:
            self._approve(step.gate, approver)
            return True
        return False

    def execute(self, task_id: str, claimed: bool = False) -> TaskResult:
        """Run one task now (it must be ready) and record its result. `claimed`: its workflow run
        recorded its start already (gitops.run.claims); the caller checked the claim is this run's."""
        task = self._known(task_id)
        unprepared = self._prepare()  # before the first state write: the checkout is still clean
        if claimed:
            state = self.current()
        else:
            started = transitions.Started(task_id, self.environ.get("GITHUB_SHA"), self._run_url(), self.whoami)
            state, _ = self.transition(started)
        record = state["tasks"][task_id]
        manual = task_id not in self.runnable()
        if manual:
            self.ui.note(f"☐ Task {task_id}: {task.title} is manual: it is handed to a person.")
        else:
            self.ui.task_started(task_id, task.title, record["attempts"])
        began = time.perf_counter()
        deployment = self._deployment(task_id, record["attempts"]) if unprepared is None else None
        if unprepared is not None:
            result = TaskResult(all_checks(task, Check.skipped("the task did not start")), unprepared)
        else:
            try:
                result = self._task_code().execute(task_id, state, record["attempts"])
            except (KeyboardInterrupt, Terminated) as stop:
                self._interrupted(task_id, record["attempts"], stop)
                if deployment is not None:  # not left "in progress" on the forge
                    deployment.end(TaskResult([], f"interrupted by {signal_name(stop)}"))
                raise
        result = self._redacted(result)
        if deployment is not None:
            deployment.end(result)
        seconds = time.perf_counter() - began
        state, actions, result = self._record(task_id, state, result, seconds, manual)
        if not manual:
            self.ui.task_finished(task_id, result, seconds)
        if self.environ.get("GITHUB_ACTIONS") == "true":
            actions_log.report_task(self.environ, self.tasklist, task_id, result.checks, result.error)
        self._carry_out(actions, state)
        self.open_incidents(result.incidents)
        return result

    def _deployment(self, task_id: str, attempt: int) -> DeploymentLog | None:
        """For a task that deploys (the registry's DEPLOYMENTS): its forge deployment, now in progress."""
        if task_id not in self.registry.deployments:
            return None
        log = DeploymentLog.of(self.forge, task_id, self.tasklist.tasks[task_id].title, attempt, self.root,
                               self.environ, self._run_url(), self.ui.note)
        log.begin()
        return log

    def _interrupted(self, task_id: str, attempt: int, stop: BaseException) -> None:
        """Ctrl-C or SIGTERM while the task ran: the task fails with the signal as its reason, so
        that it is retried like any failure."""
        self.transition(transitions.Interrupted(task_id, attempt, self._task_code().interruption(task_id, stop)))

    def _prepare(self) -> str | None:
        """Run `prepare`; the reason the task cannot run, or None."""
        if self.prepare is None:
            return None
        try:
            self.ui.note(self.prepare())
        except WorkNotPushed as exc:
            return f"the task did not start: {exc}"
        return None

    def _redacted(self, result: TaskResult) -> TaskResult:
        return redacted_result(result, self.redactor)

    def _task_code(self) -> TaskCode:
        """What task code is started with, from the runner as it is now (tests change its fields)."""
        # Where a handler reports incidents: straight to the forge, unless this job hands its result over.
        log = incidents.IncidentLog(None if self.hands_over else self.forge)
        return TaskCode(self.tasklist, self.registry, self.root, self.work_dir, self.environ, self.whoami,
                        self.ui.note, log, self.scheduled_windows, self.sleep)

    def _record(self, task_id: str, started: dict[str, Any], result: TaskResult, seconds: float,
                manual: bool) -> tuple[dict[str, Any], list[transitions.Action], TaskResult]:
        """Record a redacted result (`_finish`); returns the new state, its actions and the result as recorded."""
        try:
            return (*self._finish(task_id, started, result, seconds, manual), result)
        except WorkNotPushed as exc:  # the task's files did not go out: it failed, and the state says why
            # Tracked again: the first MLflow run keeps what the task measured, the state points
            # at this one, which records the failure.
            result = self._redacted(replace(result, error=str(exc)))
            return (*self._finish(task_id, started, result, seconds, manual), result)

    def _finish(
        self, task_id: str, started: dict[str, Any], result: TaskResult, seconds: float, manual: bool
    ) -> tuple[dict[str, Any], list[transitions.Action]]:
        """Track the execution, then record its result and run id in one state write (gitops.run.finished)."""
        def track(preview: Mapping[str, Any]) -> str | None:
            return tracked(self.tracker, self.tasklist, task_id, preview, result, seconds, self.ui.note, self.state_path)

        event = finished_event(self.tasklist, self.registry, self.clock, task_id, started, result, None if manual else track)
        return self.transition(event, notify=False)

    def evaluate_window(self, task_id: str, state: Mapping[str, Any]) -> TaskResult:
        """Run the window evaluation and checks of a waiting task's handler (dispatch.TaskCode.evaluate_window)."""
        return self._task_code().evaluate_window(task_id, state)

    def record_result(self, task_id: str, state: dict[str, Any], result: TaskResult,
                      seconds: float) -> tuple[dict[str, Any], TaskResult]:
        """Record a result measured outside `execute` (a window's evaluation): redacted, tracked, announced.
        Returns the new state and the result as recorded."""
        new, actions, result = self._record(task_id, state, self._redacted(result), seconds, manual=False)
        self.ui.task_finished(task_id, result, seconds)
        self._carry_out(actions, new)
        self.open_incidents(result.incidents)
        return new, result

    def approve(self, gate: str, by: str, auto: bool = False) -> dict[str, Any]:
        self.recover()
        return self._approve(gate, by, auto)

    def _approve(self, gate: str, by: str, auto: bool = False) -> dict[str, Any]:
        state, _ = self.transition(transitions.Approved(gate, by, auto))
        self.ui.note(f"Gate {gate} approved by {by}.")
        return state

    def record_approval(self, gate: str, by: str | None) -> bool:
        """Record an approval the forge already holds (a gate job); idempotent. False: not given yet."""
        self.recover()
        record = self.current()["gates"].get(gate)
        if record and record["status"] == "approved":
            self.ui.note(f"Gate {gate} was already approved by {record['approved_by']}.")
            return True
        if not by:
            self.ui.note(f"Gate {gate} is not approved on the forge yet: nothing to record.")
            return False
        self._approve(gate, by)
        return True

    def retry(self, task_id: str, execute: bool = True) -> Outcome:
        """The HotFix is done: resolve it and run the task again (on GitHub: its job runs it)."""
        self._known(task_id)
        self.recover()
        self.transition(transitions.Retried(task_id))
        state = self.current()
        step = self.next_step(state)
        ran = []
        if execute and step.task == task_id and step.kind in (StepKind.RUN, StepKind.MANUAL):
            self.execute(task_id)
            ran.append(task_id)
        after = self.next_step(self.current())
        # Not run here (GitHub: its job runs it): the retry is recorded, and a stop elsewhere (another
        # gate rejected) must not fail the plan job that recorded it; the step says what comes next.
        return Outcome(after, exit_for(after) if execute else EXIT_OK, ran)

    def resume(self, reason: str, by: str) -> Step:
        self.recover()
        self.transition(transitions.Resumed(reason, by))
        return self.plan()

    def _known(self, task_id: str):
        if task_id not in self.tasklist.tasks:
            raise UsageError(
                f"{self.tasklist.path} has no Task {task_id}. Tasks: {', '.join(self.tasklist.tasks)}."
            )
        return self.tasklist.tasks[task_id]

    def _run_url(self) -> str | None:
        return current_run_url(self.environ)

