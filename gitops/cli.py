"""The `gitops` command line: parse options, call the engine, print, map errors to exit codes."""
from __future__ import annotations

import json
import os
import sys
from contextlib import nullcontext
from pathlib import Path

import click

from gitops.config import load_config
from gitops.errors import GitopsError
from gitops.model import Severity
from gitops.run.signals import Terminated, exit_code, sigterm_raises
from gitops.ui.terminal import console, tracking_session
from gitops.wiring import Context, default_approver, repo_root


class Group(click.Group):
    """Maps GitopsError to its exit code with the message, ^C to 130 and SIGTERM to 143 (a task
    being run records the interruption first); never a traceback for bad input."""

    def invoke(self, ctx: click.Context):
        try:
            with sigterm_raises():
                return super().invoke(ctx)
        except GitopsError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (KeyboardInterrupt, Terminated) as stop:
            click.echo("interrupted" if isinstance(stop, KeyboardInterrupt) else "interrupted by SIGTERM", err=True)
            ctx.exit(exit_code(stop))


@click.group(cls=Group)
@click.option("--tasklist", metavar="PATH", help="The task list (default: [tool.gitops] tasklist).")
@click.option("--state", metavar="PATH", help="The state file (default: [tool.gitops] state).")
@click.option("--forge", type=click.Choice(["local", "github"]), help="Where issues and comments go.")
@click.version_option(package_name="gitops-tasklists")
@click.pass_context
def main(ctx: click.Context, tasklist: str | None, state: str | None, forge: str | None) -> None:
    """Run a process task list as a GitOps pipeline."""
    ctx.obj = Context(load_config(Path.cwd(), os.environ, tasklist, state, forge))


@main.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--handlers", "with_handlers", is_flag=True,
              help="Also import every registered handler and match its checks to its task's Done-when "
                   "criteria (slow: handlers may import dspy).")
@click.option("--strict", is_flag=True,
              help="The seed dialect's rules: a task without Done-when criteria is an error, not a "
                   "warning (it would run as manual).")
@click.pass_obj
def lint(obj: Context, path: Path | None, with_handlers: bool, strict: bool) -> None:
    """Check a task list; exit 1 on errors (what stops a run; with --strict also a task without criteria)."""
    tasklist, diagnostics = obj.tasklist(path.resolve() if path else None, handlers=with_handlers, strict=strict)
    for diagnostic in diagnostics:
        click.echo(str(diagnostic))
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    handlers = ""
    if with_handlers:
        # Say what was checked: a task list with no registry has nothing to import, and a silent
        # pass would read as "the handlers are fine".
        registry = obj.registry(tasklist)
        handlers = (f", {len(registry.ids() & set(tasklist.tasks))} handler(s) checked" if registry is not None
                    else ", no handler registry ([tool.gitops] handlers applies to the configured task list only)")
    click.echo(f"{tasklist.path}: {len(tasklist.tasks)} tasks in {len(tasklist.phases)} phases, "
               f"{errors} error(s), {warnings} warning(s){handlers}", err=True)
    sys.exit(1 if errors else 0)


@main.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 when the file is not in the canonical form.")
@click.option("--diff", "show_diff", is_flag=True,
              help="Change nothing; print the changes as a unified diff (exit 1 when there are any).")
@click.pass_obj
def fmt(obj: Context, path: Path | None, check: bool, show_diff: bool) -> None:
    """Rewrite a task list in the canonical dialect (the seed's), ids kept; its meaning is checked unchanged."""
    from gitops.tasklist.fmt_file import rewrite, write

    change = rewrite(path or obj.config.tasklist)
    name = change.path
    for task_id in change.kept:
        click.echo(f"{name}: Task {task_id} is kept as written: rewritten, it would not read the same "
                   "(please report it)", err=True)
    if show_diff:
        click.echo(change.diff(), nl=False)
    if check or show_diff:
        if change.changed:
            click.echo(f"{name}: not in the canonical form; `gitops fmt {name}` rewrites it", err=True)
            sys.exit(1)
        click.echo(f"{name}: already in the canonical form", err=True)
        return
    if change.changed:
        write(change)
    click.echo(f"{name}: {'formatted' if change.changed else 'unchanged'}", err=True)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (stable).")
@click.option("--outputs", "as_outputs", is_flag=True,
              help="GitHub Actions step outputs (key=value lines) for the workflow's plan job.")
@click.pass_obj
def status(obj: Context, as_json: bool, as_outputs: bool) -> None:
    """Progress, gates, HotFixes, quality gates and the next step."""
    from gitops.ui.view import print_status, status_json, step_outputs

    out = console()
    runner = obj.runner(out)
    state = runner.current()
    doc = status_json(runner.tasklist, state, runner.plan(), str(obj.config.state), runner.tasklist_changed,
                      runner.run_link)
    if as_json:
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
    elif as_outputs:
        click.echo("".join(f"{key}={value}\n" for key, value in step_outputs(doc).items()), nl=False)
    else:
        print_status(out, doc)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (stable).")
@click.pass_obj
def plan(obj: Context, as_json: bool) -> None:
    """What would run next and why (changes nothing)."""
    from gitops.ui.view import plan_json, print_plan

    out = console()
    runner = obj.runner(out)
    doc = plan_json(runner.tasklist, runner.current(), runner.plan(), runner.runnable())
    if as_json:
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
    else:
        print_plan(out, doc)


@main.command()
@click.option("--auto-approve", is_flag=True, help="Approve checkpoints whose criteria were all checked automatically.")
@click.option("--until", metavar="ID", help="Stop once this task is done.")
@click.option("--only", metavar="ID", help="Run only this task (it must be ready).")
@click.option("--by", metavar="NAME", help="Who approves gates in this run (default: git user.name).")
@click.option("--rerun-stale", is_flag=True,
              help="First re-run done tasks whose steps or criteria changed since they ran (see `gitops status`).")
@click.pass_obj
def run(obj: Context, auto_approve: bool, until: str | None, only: str | None, by: str | None,
        rerun_stale: bool) -> None:
    """Execute locally until done, a gate, a failure or a halt."""
    from gitops.plan.planner import StepKind
    from gitops.run.run_lock import exclusive_run
    from gitops.ui.view import print_step

    out = console()
    runner = obj.runner(out)
    with exclusive_run(runner.state_path, runner.ui.note), tracking_session(runner, out, obj.tracking_note):
        outcome = runner.run(by or default_approver(), auto_approve, until, only, rerun_stale)
    if outcome.stopped_at:
        out.print(f"Stopped after Task {outcome.stopped_at} (--until).")
    elif outcome.step.kind is StepKind.GATE:
        out.print(f"🛑 Stopped at gate {outcome.step.gate}: {outcome.step.prompt}")
    print_step(out, outcome.step.to_json())
    sys.exit(outcome.exit_code)


@main.command("run-task")
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


@main.command()
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


@main.command("record-task")
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


@main.command("evaluate-windows")
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


@main.command("due-windows")
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


@main.command("record-windows")
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


@main.command()
@click.argument("gate")
@click.option("--by", metavar="NAME", help="Who approves (default: GITOPS_APPROVER, else git user.name).")
@click.option("--recorded", is_flag=True,
              help="Record an approval the forge already holds (workflow gate jobs); never approves by itself.")
@click.option("--run-id", type=int, metavar="ID",
              help="--forge github: the waiting run (default: GITHUB_RUN_ID, else the newest waiting run).")
@click.option("--hand-over", "hand_over", is_flag=True,
              help="With --recorded, in a task job without a write token: record it in the job's own copy of "
                   "the state, for `run-task --hand-over` (the recording job records it again).")
@click.pass_obj
def approve(obj: Context, gate: str, by: str | None, recorded: bool, run_id: int | None, hand_over: bool) -> None:
    """Approve a checkpoint ("1.1"), a phase ("phase-2") or a production gate ("deploy-6.1")."""
    from gitops.ui.view import print_step

    out = console()
    if obj.config.forge == "github" and not recorded:
        # A reviewer at a terminal: approve the run's pending deployment; its gate job records it.
        from gitops.github.commands import approve_deployment

        page = approve_deployment(obj.checked_tasklist(), gate, os.environ, by or default_approver(), run_id)
        out.print(f"Approved gate {gate}: the run continues ({page}); its gate job records the approval in state.json.")
        return
    if hand_over and not recorded:
        from gitops.errors import UsageError

        raise UsageError("--hand-over records an approval the forge holds: it needs --recorded.")
    runner = obj.runner(out, hand_over=hand_over)
    if recorded:
        if not by and obj.config.forge == "github":
            from gitops.github.commands import approver_from_forge

            by = approver_from_forge(runner.forge, gate, os.environ, runner.ui.note)
        runner.record_approval(gate, by)
    else:
        runner.approve(gate, by or default_approver())
    print_step(out, runner.plan().to_json())


@main.command("setup-github")
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


@main.command("comment-command")
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


@main.command()
@click.argument("task_id")
@click.pass_obj
def retry(obj: Context, task_id: str) -> None:
    """HotFix done: resolve it and re-run the task."""
    from gitops.run.run_lock import exclusive_run
    from gitops.ui.view import print_step

    out = console()
    # On GitHub the task's own job re-runs it, with the job's permissions, not this one's.
    runner = obj.runner(out)
    local = obj.config.forge != "github"
    with exclusive_run(runner.state_path, runner.ui.note) if local else nullcontext(), \
            tracking_session(runner, out, obj.tracking_note):
        outcome = runner.retry(task_id, execute=local)
    print_step(out, outcome.step.to_json())
    sys.exit(outcome.exit_code)


@main.command()
@click.pass_obj
def recover(obj: Context) -> None:
    """Record running tasks whose runner is gone (kill -9, a cancelled job) as failed, with a HotFix.

    Every command that changes the state does this first; the workflow's plan job runs it alone.
    """
    from gitops.ui.view import print_step

    out = console()
    runner = obj.runner(out)
    gone = runner.recover()
    if not gone:
        out.print("No running task has lost its runner.")
    print_step(out, runner.plan().to_json())


@main.command()
@click.option("--reason", required=True, help="Why it is safe to go on (recorded in state.json).")
@click.option("--by", metavar="NAME", help="Who resumes (default: git user.name).")
@click.pass_obj
def resume(obj: Context, reason: str, by: str | None) -> None:
    """Clear a halt after consecutive failures."""
    from gitops.ui.view import print_step

    out = console()
    step = obj.runner(out).resume(reason, by or default_approver())
    out.print("Halt cleared.")
    print_step(out, step.to_json())


@main.command()
@click.option("--reason", required=True,
              help="Why production is rolled back (the deployment's description, the commit).")
@click.option("--by", metavar="NAME", help="Who asks (default: git user.name).")
@click.pass_obj
def rollback(obj: Context, reason: str, by: str | None) -> None:
    """Roll production back by hand: the registry's ROLLBACKS, each a forge deployment; exit 1 if one failed."""
    from gitops.run.rollback import roll_back

    out = console()
    runner = obj.runner(out)
    done = roll_back(runner.registry.rollbacks, runner.forge, runner.root, runner.work_dir / "logs", runner.environ,
                     " ".join(reason.split()), by or default_approver(), out.print)
    if not done:
        sys.exit(1)


@main.command()
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


@main.command()
@click.pass_obj
def report(obj: Context) -> None:
    """Update the phase PR and its sticky progress comment (the workflow's final job)."""
    from gitops.ui.view import print_step

    out = console()
    step = obj.runner(out, post_progress=True).report()
    print_step(out, step.to_json())
