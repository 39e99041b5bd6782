"""What a person sees in a terminal: task progress, notes, and the prompt at a gate."""
from __future__ import annotations

import contextlib
import sys

import click

from gitops.errors import GitopsError


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
def tracking_session(runner, out, note: str | None = None):
    """End the pipeline's parent run when the command ends; a tracking failure is only a warning.

    `note`: why nothing is tracked (mlflow not installed), said once, on stderr, by the commands
    that execute tasks; `status --json` and `plan` stay quiet.
    """
    if note:
        click.echo(note, err=True)
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
