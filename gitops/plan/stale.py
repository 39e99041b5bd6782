"""Running tasks whose runner is gone: which ones, why, and the next step. Pure: what became of a
local process is asked through `fate` (gitops.run.identity.local_fate), what became of a workflow
run through `run_fate` (on GitHub: gitops.github.run_status, which asks the API).

The rules:

- **Locally** a task recorded by a process on this host is gone when that pid is not alive, or
  is alive as another process (its incarnation, boot id and start time, differs: pid reuse).
  A task recorded on another host is not decided here: only that host can see its processes.
- **On GitHub** a task recorded by this run and attempt belongs to a job of this run. One
  recorded by another run, or another attempt of this run, is gone when that run attempt has
  completed (its job was cancelled, timed out or lost its runner), and still runs while it is in
  progress: `run_fate` asks GitHub (an answer it cannot get is an error, never a guess). Without
  it (`serialised_runs`) every other run counts as ended, which holds only while runs never
  overlap. The plan job records gone tasks first (`gitops recover`), so the run's jobs see the HotFix.
- A record without a runner (written before gitops recorded one) is gone on GitHub (an earlier
  run wrote it) and undecided locally.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import compress, repeat
from operator import eq, methodcaller
from typing import Any, Callable, Mapping

from gitops.model import TaskStatus
from gitops.plan.planner import Step, StepKind

Fate = Callable[[int, "str | None"], "str | None"]
# (run id, attempt, the run asking) -> None while that run attempt is in progress; else the words
# that finish "its runner is gone: workflow run N (attempt n) ..." (what became of it).
RunFate = Callable[[str, str, Mapping[str, Any]], "str | None"]


def serialised_runs(run_id: str, attempt: str, here: Mapping[str, Any]) -> str | None:
    """Another run attempt, where runs of the workflow never overlap: it has ended."""
    return (f"ended while the task ran (cancelled, timed out or its runner was lost); workflow runs never "
            f"overlap, and run {here['github_run_id']} (attempt {here.get('github_run_attempt') or 1}) runs now")


@dataclass(frozen=True)
class Stale:
    task: str
    attempt: int
    gone: bool  # True: recorded as failed by the next command that writes; False: undecided here
    reason: str  # gone: the task's error ("its runner is gone: ..."); else why it is undecided


def stale_tasks(state: Mapping[str, Any], here: Mapping[str, Any], fate: Fate,
                run_fate: RunFate = serialised_runs) -> list[Stale]:
    """Every running task whose runner is gone or cannot be judged from `here`, in state order."""
    found = []
    records = state["tasks"]
    # Asked before every step: the running tasks are found in C (few or none of a long list run).
    running = compress(records, map(eq, map(_STATUS, records.values()), repeat(_RUNNING)))
    for task_id in running:
        record = records[task_id]
        judged = _judge(record.get("runner"), here, fate, run_fate)
        if judged is not None:
            found.append(Stale(task_id, record["attempts"], *judged))
    return found


_STATUS = methodcaller("get", "status")
_RUNNING = TaskStatus.RUNNING.value


def _judge(runner: Mapping[str, Any] | None, here: Mapping[str, Any], fate: Fate,
           run_fate: RunFate) -> tuple[bool, str] | None:
    """(gone, reason), or None when the runner still runs."""
    in_workflow = here.get("github_run_id") is not None
    if not runner:
        if in_workflow:
            return True, "its runner is gone: an earlier workflow run started it and has ended"
        return False, ("was started by an older gitops, which did not record its runner: gitops cannot tell "
                       "whether it still runs")
    if runner.get("github_run_id"):
        run = f"workflow run {runner['github_run_id']} (attempt {runner.get('github_run_attempt') or 1})"
        if not in_workflow:
            return False, (f"runs in {run}: the workflow's next run records it as failed if that run ended "
                           "(gitops cannot tell from outside the workflow)")
        if (runner["github_run_id"], runner.get("github_run_attempt")) == (here["github_run_id"], here.get("github_run_attempt")):
            return None
        what = run_fate(runner["github_run_id"], runner.get("github_run_attempt") or "1", here)
        return (True, f"its runner is gone: {run} {what}") if what else None
    where = f"pid {runner['pid']} on {runner['host']}"
    if runner["host"] != here["host"]:
        return False, (f"runs as {where}: gitops cannot tell from {here['host']} whether it still runs; "
                       f"a gitops command on {runner['host']} records it as failed if its runner is gone")
    what = fate(runner["pid"], runner.get("process"))
    return (True, f"its runner is gone: {where} {what}") if what else None


def stale_step(stale: list[Stale], step: Step) -> Step:
    """The next step with stale running tasks: a gone runner comes first (any command that writes
    records it); an undecided one only explains a pipeline that cannot move."""
    gone = [s for s in stale if s.gone]
    if gone:
        first = gone[0]
        return Step(
            StepKind.BLOCKED,
            f"Task {first.task} is marked running, but {first.reason}. `gitops run` records it as failed "
            f"and opens a HotFix; then fix the cause and `gitops retry {first.task}`.",
            task=first.task,
            command="gitops run",
        )
    if stale and step.kind is StepKind.BLOCKED:
        first = stale[0]
        return Step(StepKind.BLOCKED, f"Task {first.task} is marked running and {first.reason}.", task=first.task)
    return step
