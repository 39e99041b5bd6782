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
from gitops.wiring import Context, default_approver
from gitops.workflow_commands import WORKFLOW_COMMANDS


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


# What the workflows' jobs call: one group, so `gitops --help` lists every command.
for _command in WORKFLOW_COMMANDS:
    main.add_command(_command)
