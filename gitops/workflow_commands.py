"""The commands the rendered workflows' jobs call (`gitops run-task`, `record-task`, the windows
workflow's, `render`, `report`, ...): `gitops.cli` adds them to the `gitops` group. Apart from the
commands a person types, which stay in gitops.cli.
"""
from __future__ import annotations

import json
import os
import sys
from contextlib import nullcontext
from pathlib import Path

import click

from gitops.ui.terminal import console, tracking_session
from gitops.wiring import Context, repo_root


@click.command("run-task")
@click.argument("task_id")
@click.option("--hand-over", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="--forge github, a task job without a write token: push nothing, write the result and "
                   "the task's work to PATH for the workflow's recording job (`record-task`).")
@click.pass_obj
def run_task(obj: Context, task_id: str, hand_over: Path | None) -> None:
    """Execute one task (what a workflow job calls); exit 1 if it failed."""
    from gitops.run.task_job import hand_over_result, ours_to_run

    out = console()
    runner = obj.runner(out, task_work=True, hand_over=hand_over is not None)
    if hand_over is not None and not ours_to_run(runner, task_id, hand_over):
        return
    result = None
    try:
        with tracking_session(runner, out, obj.tracking_note):
            if obj.config.forge != "github":
                # On GitHub the run's plan job recovered already, and a task job writes no state before
                # its checkout has taken in the phase branch (Runner.execute's `prepare`).
                runner.recover()
            result = runner.execute(task_id, claimed=hand_over is not None)
    finally:
        if hand_over is not None:
            hand_over_result(runner, task_id, result, hand_over)
    sys.exit(1 if result.failed else 0)


@click.command()
@click.argument("tasks")
@click.option("--outputs", "as_outputs", is_flag=True,
              help="Print the step output `pending`: the tasks among TASKS this run may start (pending, or claimed "
                   "by this run), for the plan job; what it says goes to stderr.")
@click.pass_obj
def claim(obj: Context, tasks: str, as_outputs: bool) -> None:
    """Claim for this workflow run the ready tasks among TASKS (a JSON list: the plan job's pending output)."""
    from gitops.run.claims import claim as claim_tasks
    from gitops.run.claims import ours_or_pending, planned

    candidates = planned(tasks)
    out = console(stderr=as_outputs)
    runner = obj.runner(out)
    claimed = claim_tasks(runner, candidates)
    out.print(f"Claimed for this run: {', '.join(claimed)}." if claimed else "No task to claim: none of them is ready.")
    if as_outputs:
        mine = ours_or_pending(runner.current(), candidates, runner.whoami)
        click.echo(f"pending={json.dumps(mine, separators=(',', ':'))}")


@click.command("record-task")
@click.argument("task_id")
@click.option("--from", "source", required=True, type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="The result a task job handed over (`run-task --hand-over`); missing: recorded as failed.")
@click.option("--task-job-result", envvar="TASK_JOB_RESULT", metavar="RESULT",
              help="The task job's result (success, failure, cancelled, skipped: `needs.<job>.result`), which "
                   "says why a hand-over is missing. Default: $TASK_JOB_RESULT.")
@click.pass_obj
def record_task(obj: Context, task_id: str, source: Path, task_job_result: str | None) -> None:
    """Commit a task job's handed-over result (the workflow's recording job, which runs no task code);
    exit 1 when no result arrived (recorded as interrupted)."""
    from gitops.errors import BadInput
    from gitops.plan.readiness import result_lost
    from gitops.run.recording import record

    if obj.config.forge != "github":
        raise BadInput("record-task commits a workflow task job's result: it needs --forge github.")
    out = console()
    runner = obj.runner(out)
    before = runner.current()
    out.print(record(runner, runner.store, task_id, source, task_job_result))
    # No result arrived: the job fails, so that the task's gate job does not ask a reviewer about a
    # task whose outcome nobody knows, and its dependents in this run skip.
    if not result_lost(before["tasks"].get(task_id) or {}) and result_lost(runner.current()["tasks"][task_id]):
        sys.exit(1)


@click.command("evaluate-windows")
@click.option("--hand-over", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="--forge github, a job without a write token: record nothing, write each evaluation to DIR "
                   "for the windows workflow's recording job (`record-windows`).")
@click.pass_obj
def evaluate_windows(obj: Context, hand_over: Path | None) -> None:
    """Evaluate the tasks whose time window has ended (the scheduled windows workflow); others keep waiting."""
    from gitops.run.run_lock import exclusive_run
    from gitops.run.windows import evaluate_due
    from gitops.ui.view import print_step

    out = console()
    runner = obj.runner(out, task_work=hand_over is not None, hand_over=hand_over is not None)
    local = obj.config.forge != "github"  # as `run`: one local process changes the state at a time
    with exclusive_run(runner.state_path, runner.ui.note) if local else nullcontext(), \
            tracking_session(runner, out, obj.tracking_note):
        evaluated = evaluate_due(runner, hand_over)
    if not evaluated:
        out.print("No task waits for a window.")
    print_step(out, runner.plan().to_json())
    sys.exit(1 if any(e.status == "failed" for e in evaluated) else 0)


@click.command("due-windows")
@click.option("--outputs", "as_outputs", is_flag=True,
              help="Print the step output `due` (true when a window has ended); what it says goes to stderr.")
@click.pass_obj
def due_windows(obj: Context, as_outputs: bool) -> None:
    """Say whose time window has ended, running no task code (the windows workflow's first job: the
    evaluation, which may touch production, runs and asks for its approval only when one has)."""
    from gitops.plan import windows
    from gitops.run.windows import waits

    out = console(stderr=as_outputs)
    runner = obj.runner(out)
    state = runner.current()
    due = windows.due(runner.tasklist, state, runner.clock())
    for task_id, until in windows.waiting(runner.tasklist, state):
        out.print(f"Task {task_id}: its window ended at {until}; its evaluation is due." if task_id in due
                  else waits(task_id, until, state["tasks"][task_id]))
    if not windows.waiting(runner.tasklist, state):
        out.print("No task waits for a window.")
    if as_outputs:
        click.echo(f"due={'true' if due else 'false'}")


@click.command("record-windows")
@click.option("--from", "source", required=True, type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="The evaluations a job handed over (`evaluate-windows --hand-over`); a task with none keeps waiting.")
@click.option("--outputs", "as_outputs", is_flag=True,
              help="Print the step output `completed` (true when a task stopped waiting); what it says goes to stderr.")
@click.option("--evaluate-job-result", envvar="EVALUATE_JOB_RESULT", metavar="RESULT",
              help="The evaluate job's result (success, failure, cancelled, skipped): a failed job that handed "
                   "nothing over may have had its production review rejected. Default: $EVALUATE_JOB_RESULT.")
@click.pass_obj
def record_windows(obj: Context, source: Path, as_outputs: bool, evaluate_job_result: str | None) -> None:
    """Commit the handed-over window evaluations (the windows workflow's recording job, which runs no task code)."""
    from gitops.errors import BadInput
    from gitops.run.windows import record

    if obj.config.forge != "github":
        raise BadInput("record-windows commits a workflow job's evaluations: it needs --forge github.")
    out = console(stderr=as_outputs)
    runner = obj.runner(out)
    recorded = record(runner, runner.store, source, evaluate_job_result)
    for item in recorded:
        out.print(item.message)
    if as_outputs:
        click.echo(f"completed={'true' if any(item.completed for item in recorded) else 'false'}")


@click.command("setup-github")
@click.option("--reviewer", "reviewers", multiple=True, metavar="NAME",
              help="A required reviewer of the environments: a login, or org/team (repeatable).")
@click.option("--check", is_flag=True,
              help="Only check (the workflow's plan job): every gate environment has required reviewers, "
                   "or the PR-merge fallback is configured; exit 2 otherwise.")
@click.pass_obj
def setup_github(obj: Context, reviewers: tuple[str, ...], check: bool) -> None:
    """Create the environments (one per gate, with required reviewers), the ruleset and labels on GitHub; safe to run again."""
    from gitops.github.commands import check_github
    from gitops.github.commands import setup_github as set_up

    tasklist = obj.tasklist()[0]
    registry = obj.registry(tasklist)
    handled = registry.ids() if registry is not None else frozenset()
    if check:
        click.echo(check_github(tasklist, os.environ, handled))
        return
    for line in set_up(tasklist, os.environ, reviewers, handled):
        click.echo(line)


@click.command("comment-command")
@click.pass_obj
def comment_command(obj: Context) -> None:
    """Read this run's `/gitops ...` comment, check its author, answer it; print the plan job's step outputs."""
    from gitops.errors import UsageError
    from gitops.github.comment_command import handle, outputs

    command = handle(obj.tasklist()[0], os.environ)
    if command is None or command.reply:
        # Refused or not understood (the reply is on the comment): the run plans and runs nothing.
        raise UsageError("the comment is no gitops command that may run: "
                         + (command.reply if command else "it does not start with /gitops"))
    click.echo(outputs(command), nl=False)


@click.command()
@click.option("--check", is_flag=True, help="Fail (exit 1) when the committed workflow differs from the task list.")
@click.pass_obj
def render(obj: Context, check: bool) -> None:
    """Write .github/workflows/<project>.yml from the task list; --check fails on drift."""
    from gitops.github import render as renderer
    from gitops.github.windows_workflow import windows_workflow_path
    from gitops.github.workflow import workflow_path

    tasklist = obj.checked_tasklist()
    ref = obj.tasklist_ref(tasklist)
    root = repo_root(obj.config.root)
    registry = obj.registry(tasklist)
    handled = registry.ids() if registry is not None else frozenset()
    state = obj.config.state.resolve().relative_to(root.resolve()).as_posix()
    windows = [t for t in tasklist.tasks if registry is not None and t in registry.windows]
    files = {root / workflow_path(ref): renderer.render(tasklist, tasklist_path=ref, handled=handled, state_path=state,
                                                        windows=windows)}
    if windows:  # tasks with a time window: the scheduled workflow that evaluates them
        files[root / windows_workflow_path(ref)] = renderer.render_windows(tasklist, tasklist_path=ref, windows=windows)
    if check:
        drift = [line for target, text in files.items() for line in renderer.check_text(text, target, ref)]
        for line in drift:
            click.echo(line, err=True)
        if drift:
            sys.exit(1)
        for target in files:
            click.echo(f"{target}: in sync with {ref}")
        return
    for target, text in files.items():
        click.echo(f"{target}: {'written' if renderer.write_text(text, target) else 'unchanged'}")


@click.command()
@click.pass_obj
def report(obj: Context) -> None:
    """Update the phase PR and its sticky progress comment (the workflow's final job)."""
    from gitops.ui.view import print_step

    out = console()
    step = obj.runner(out, post_progress=True).report()
    print_step(out, step.to_json())


WORKFLOW_COMMANDS = (run_task, claim, record_task, evaluate_windows, due_windows, record_windows, setup_github, comment_command, render, report)
