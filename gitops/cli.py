"""The `gitops` command line: parse options, call the engine, print, map errors to exit codes."""
from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from gitops.config import Config, load_config
from gitops.errors import BadInput, GitopsError, TaskListError
from gitops.model import Severity, TaskList

EXIT_BAD_INPUT = 2


@dataclass
class Context:
    config: Config

    def tasklist(self, path: Path | None = None) -> tuple[TaskList, list]:
        """Parse and lint; refuse to go on when the task list has errors."""
        from gitops import lint, parser

        tasklist, diagnostics = parser.load(path or self.config.tasklist)
        return tasklist, lint.lint(tasklist, diagnostics, self.handler_ids(tasklist))

    def handler_ids(self, tasklist: TaskList) -> frozenset[str] | None:
        if Path(tasklist.path).resolve() != self.config.tasklist:
            return None  # the configured handlers belong to the configured task list only
        from gitops.handlers import Registry

        return Registry.from_module(self.config.handlers).ids()

    def runner(self, console, post_progress: bool | None = None):
        """The engine for the configured task list, forge and state store."""
        from gitops.forge import LocalForge
        from gitops.handlers import Registry
        from gitops.runner import Runner

        tasklist = self.checked_tasklist()
        root = repo_root(self.config.root)
        github = self.config.forge == "github"
        if github:
            from gitops.github_commands import forge_for  # PyGithub itself loads on the first API call

            forge = forge_for(tasklist, os.environ)
        else:
            forge = LocalForge(self.config.work_dir / "forge")
        tracker = self.tracker(root)
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
            store=self.git_store(tasklist, root) if github else None,
            post_progress=not github if post_progress is None else post_progress,
            tracker=tracker,
            step_text=self.github_step_text(tasklist) if github else None,
            run_link=self.run_link(root) if tracker is not None else None,
        )

    def github_step_text(self, tasklist: TaskList):
        from gitops import workflow
        from gitops.github_commands import step_text

        env = os.environ
        run = None
        if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
            run = f"{env.get('GITHUB_SERVER_URL', 'https://github.com')}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
        return step_text(workflow.slug(tasklist.path), run)

    def run_link(self, root: Path):
        from gitops.tracking import run_link, tracking_uri  # light: mlflow itself is not imported

        uri = tracking_uri(root, os.environ)
        return lambda run_id: run_link(uri, None, run_id)

    def tracker(self, root: Path):
        """MLflow tracking (cheap to make: mlflow loads on the first logged task); GITOPS_TRACKING=off opts out."""
        if os.environ.get("GITOPS_TRACKING", "").lower() in ("off", "0", "false", "no"):
            return None
        from gitops.tracking import MlflowTracker

        return MlflowTracker(root=root, environ=dict(os.environ))

    def checked_tasklist(self) -> TaskList:
        """The task list, refused when it has errors."""
        tasklist, diagnostics = self.tasklist()
        errors = [d for d in diagnostics if d.severity is Severity.ERROR]
        if errors:
            listing = "\n".join(str(d) for d in errors[:10])
            raise TaskListError(f"{listing}\n{len(errors)} error(s) in the task list: fix them (see `gitops lint`).")
        return tasklist

    def git_store(self, tasklist: TaskList, root: Path):
        """On GitHub, state.json lives on the phase branch: each write is a commit pushed there."""
        from gitops import gitsync, workflow

        env = os.environ
        if not env.get("GITHUB_TOKEN"):
            raise BadInput("--forge github needs GITHUB_TOKEN to push state commits; set it (in a workflow: "
                           "env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}) or use --forge local.")
        return gitsync.phase_store(
            root,
            workflow.slug(tasklist.path),
            [p.number for p in tasklist.phases],
            path=str(self.config.state.relative_to(root)),
            local_path=self.config.state,
            environ=gitsync.github_auth_env(env["GITHUB_TOKEN"], env.get("GITHUB_SERVER_URL", "https://github.com")),
            author=("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com"),
        )

    def tasklist_ref(self, tasklist: TaskList) -> str:
        """The task list's path from the repository root (as workflows and state.json name it)."""
        path = Path(tasklist.path).resolve()
        try:
            return str(path.relative_to(repo_root(self.config.root).resolve()))
        except ValueError:
            return str(path)


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


class RichUI:
    """Progress and prompts in a terminal; plain lines in logs and CI."""

    def __init__(self, console):
        self.console = console
        self._status = None

    def task_started(self, task_id: str, title: str, attempt: int) -> None:
        self.console.print(f"▶ Task {task_id}: {title} (attempt {attempt})")
        if self.console.is_terminal:
            self._status = self.console.status(f"Task {task_id} running…")
            self._status.start()

    def task_finished(self, task_id: str, result, seconds: float) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        counts: dict[str, int] = {}
        for check in result.checks:
            counts[check["status"]] = counts.get(check["status"], 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        mark = "[red]✗ failed[/red]" if result.failed else "[green]✓[/green]"
        self.console.print(f"{mark} Task {task_id} in {seconds:.1f} s: {summary or 'no criteria'}")
        if result.error:
            self.console.print(result.error.rstrip()[-2000:], markup=False, highlight=False)

    def note(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False)

    def confirm(self, step, approver: str) -> bool | None:
        if not (sys.stdin.isatty() and self.console.is_terminal):
            return None
        self.console.print(f"\n🛑 [bold]{step.prompt}[/bold]")
        for reason in step.reasons:
            self.console.print(f"   checkpoint: {reason}")
        for criterion in step.unsigned:
            self.console.print(f"   [ ] {criterion}")
        what = f"Sign off {len(step.unsigned)} criteria and approve" if step.unsigned else "Approve"
        return click.confirm(f"{what} gate {step.gate} as {approver}?", default=False)


@contextlib.contextmanager
def tracking_session(runner, out):
    """End the pipeline's parent run when the command ends; a tracking failure is only a warning."""
    try:
        yield
    finally:
        if runner.tracker is not None:
            try:
                runner.tracker.close(runner.current())
            except GitopsError as exc:
                out.print(f"warning: {exc}", markup=False, highlight=False)


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


class Group(click.Group):
    """Maps GitopsError to its exit code with the message, ^C to 130; never a traceback for bad input."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GitopsError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


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
@click.pass_obj
def lint(obj: Context, path: Path | None) -> None:
    """Check a task list; exit 1 on errors."""
    tasklist, diagnostics = obj.tasklist(path.resolve() if path else None)
    for diagnostic in diagnostics:
        click.echo(str(diagnostic))
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    click.echo(f"{tasklist.path}: {len(tasklist.tasks)} tasks in {len(tasklist.phases)} phases, "
               f"{errors} error(s), {warnings} warning(s)", err=True)
    sys.exit(1 if errors else 0)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (stable).")
@click.option("--outputs", "as_outputs", is_flag=True,
              help="GitHub Actions step outputs (key=value lines) for the workflow's plan job.")
@click.pass_obj
def status(obj: Context, as_json: bool, as_outputs: bool) -> None:
    """Progress, gates, HotFixes, quality gates and the next step."""
    from gitops.view import print_status, status_json, step_outputs

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
    from gitops.view import plan_json, print_plan

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
@click.pass_obj
def run(obj: Context, auto_approve: bool, until: str | None, only: str | None, by: str | None) -> None:
    """Execute locally until done, a gate, a failure or a halt."""
    from gitops.planner import StepKind
    from gitops.view import print_step

    out = console()
    runner = obj.runner(out)
    with tracking_session(runner, out):
        outcome = runner.run(by or default_approver(), auto_approve, until, only)
    if outcome.stopped_at:
        out.print(f"Stopped after Task {outcome.stopped_at} (--until).")
    elif outcome.step.kind is StepKind.GATE:
        out.print(f"🛑 Stopped at gate {outcome.step.gate}: {outcome.step.prompt}")
    print_step(out, outcome.step.to_json())
    sys.exit(outcome.exit_code)


@main.command("run-task")
@click.argument("task_id")
@click.pass_obj
def run_task(obj: Context, task_id: str) -> None:
    """Execute one task (what a workflow job calls); exit 1 if it failed."""
    out = console()
    runner = obj.runner(out)
    with tracking_session(runner, out):
        result = runner.execute(task_id)
    sys.exit(1 if result.failed else 0)


@main.command()
@click.argument("gate")
@click.option("--by", metavar="NAME", help="Who approves (default: GITOPS_APPROVER, else git user.name).")
@click.option("--recorded", is_flag=True,
              help="Record an approval the forge already holds (workflow gate jobs); never approves by itself.")
@click.option("--run-id", type=int, metavar="ID",
              help="--forge github: the waiting run (default: GITHUB_RUN_ID, else the newest waiting run).")
@click.pass_obj
def approve(obj: Context, gate: str, by: str | None, recorded: bool, run_id: int | None) -> None:
    """Approve a checkpoint ("1.1"), a phase ("phase-2") or a production gate ("deploy-6.1")."""
    from gitops.view import print_step

    out = console()
    if obj.config.forge == "github" and not recorded:
        # A reviewer at a terminal: approve the run's pending deployment; its gate job records it.
        from gitops.github_commands import approve_deployment

        page = approve_deployment(obj.checked_tasklist(), gate, os.environ, by or default_approver(), run_id)
        out.print(f"Approved gate {gate}: the run continues ({page}); its gate job records the approval in state.json.")
        return
    runner = obj.runner(out)
    if recorded:
        if not by and obj.config.forge == "github":
            from gitops.github_commands import approver_from_forge

            by = approver_from_forge(runner.forge, gate, os.environ, runner.ui.note)
        runner.record_approval(gate, by)
    else:
        runner.approve(gate, by or default_approver())
    print_step(out, runner.plan().to_json())


@main.command("setup-github")
@click.option("--reviewer", "reviewers", multiple=True, metavar="NAME",
              help="A required reviewer of the environments: a login, or org/team (repeatable).")
@click.option("--checkpoint-env", metavar="NAME", help="The checkpoint environment (default: <project>-checkpoint).")
@click.pass_obj
def setup_github(obj: Context, reviewers: tuple[str, ...], checkpoint_env: str | None) -> None:
    """Create the environments (with required reviewers) and labels on GitHub; safe to run again."""
    from gitops.github_commands import setup_github as set_up

    for line in set_up(obj.tasklist()[0], os.environ, reviewers, checkpoint_env):
        click.echo(line)


@main.command()
@click.argument("task_id")
@click.pass_obj
def retry(obj: Context, task_id: str) -> None:
    """HotFix done: resolve it and re-run the task."""
    from gitops.view import print_step

    out = console()
    # On GitHub the task's own job re-runs it, with the job's permissions, not this one's.
    runner = obj.runner(out)
    with tracking_session(runner, out):
        outcome = runner.retry(task_id, execute=obj.config.forge != "github")
    print_step(out, outcome.step.to_json())
    sys.exit(outcome.exit_code)


@main.command()
@click.option("--reason", required=True, help="Why it is safe to go on (recorded in state.json).")
@click.option("--by", metavar="NAME", help="Who resumes (default: git user.name).")
@click.pass_obj
def resume(obj: Context, reason: str, by: str | None) -> None:
    """Clear a halt after consecutive failures."""
    from gitops.view import print_step

    out = console()
    step = obj.runner(out).resume(reason, by or default_approver())
    out.print("Halt cleared.")
    print_step(out, step.to_json())


@main.command()
@click.option("--check", is_flag=True, help="Fail (exit 1) when the committed workflow differs from the task list.")
@click.pass_obj
def render(obj: Context, check: bool) -> None:
    """Write .github/workflows/<project>.yml from the task list; --check fails on drift."""
    from gitops import render as renderer

    tasklist = obj.checked_tasklist()
    ref = obj.tasklist_ref(tasklist)
    target = repo_root(obj.config.root) / renderer.workflow_path(ref)
    if check:
        drift = renderer.check(tasklist, target, tasklist_path=ref)
        for line in drift:
            click.echo(line, err=True)
        if drift:
            sys.exit(1)
        click.echo(f"{target}: in sync with {ref}")
        return
    wrote = renderer.write(tasklist, target, tasklist_path=ref)
    click.echo(f"{target}: {'written' if wrote else 'unchanged'}")


@main.command()
@click.pass_obj
def report(obj: Context) -> None:
    """Update the phase PR and its sticky progress comment (the workflow's final job)."""
    from gitops.view import print_step

    out = console()
    step = obj.runner(out, post_progress=True).report()
    print_step(out, step.to_json())
