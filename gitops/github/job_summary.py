"""GitHub Actions output: the job summary ($GITHUB_STEP_SUMMARY) and `::error` annotations.

Workflow commands are lines on stdout; their escaping rules are GitHub's
(https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts): `%`, CR and LF in
the message; additionally `:` and `,` in property values. Everything written here is redacted.
"""
from __future__ import annotations

import sys
from typing import Any, Mapping, Sequence, TextIO

from gitops.markdown_text import cell, close_open_fence, code_block, inline
from gitops.model import TaskList
from gitops.redact import Redactor

# GitHub shows at most 1 MiB of summary per step; one append never takes more than this.
MAX_SUMMARY_CHARS = 100_000


def escape_data(text: str) -> str:
    """Escape a workflow-command message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow-command property value (file=, line=, title=)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: Any) -> str:
    """One workflow command line, e.g. `::error file=a.md,line=3::text`; None properties are left out."""
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items() if value is not None)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def annotation(
    level: str, message: str, file: str | None = None, line: int | None = None, title: str | None = None
) -> str:
    """An `error`, `warning` or `notice` annotation pointing at a file and line."""
    if level not in ("error", "warning", "notice"):
        raise ValueError(f"annotation level must be error, warning or notice, not {level!r}")
    return command(level, message, file=file, line=line, title=title)


def append_summary(environ: Mapping[str, str], markdown: str) -> bool:
    """Append Markdown to the job summary; False when not in a job (no $GITHUB_STEP_SUMMARY)."""
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    text = Redactor.from_environ(environ).redact(markdown.rstrip("\n"))
    if len(text) > MAX_SUMMARY_CHARS:
        text = close_open_fence(text[: MAX_SUMMARY_CHARS - 70]) + "\n\n… (truncated; the full text is in the job log)"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text + "\n\n")
    return True


def failed_check_annotations(tasklist: TaskList, task_id: str, checks: Sequence[Mapping[str, Any]]) -> list[str]:
    """One `::error` per failed check, at the line of its Done-when criterion in the task list."""
    task = tasklist.tasks[task_id]
    lines = {criterion.text: criterion.line for criterion in task.done_when}
    out = []
    for check in checks:
        if check.get("status") != "failed":
            continue
        evidence = " ".join(str(check.get("evidence") or "").split())[:500]
        message = f"{check['criterion']}: {evidence}" if evidence else check["criterion"]
        line = lines.get(check["criterion"], task.line)
        out.append(annotation("error", message, file=tasklist.path, line=line, title=f"Task {task_id} failed"))
    return out


def report_task(
    environ: Mapping[str, str],
    tasklist: TaskList,
    task_id: str,
    checks: Sequence[Mapping[str, Any]],
    error: str | None,
    stream: TextIO | None = None,
) -> None:
    """Print annotations for the failed checks of a task and add its result table to the job summary."""
    redactor = Redactor.from_environ(environ)
    out = stream or sys.stdout
    for line in failed_check_annotations(tasklist, task_id, checks):
        print(redactor.redact(line), file=out)
    task = tasklist.tasks[task_id]
    rows = "\n".join(
        f"| {cell(c['criterion'])} | {cell(c['status'])} | {cell(str(c.get('evidence') or ''))} |" for c in checks
    )
    mark = "❌" if error or any(c.get("status") == "failed" for c in checks) else "✅"
    text = f"### {mark} Task {task_id}: {inline(task.title)}\n\n| Criterion | Result | Evidence |\n|---|---|---|\n{rows}\n"
    if error:
        # In a code block a `</details>` is text: the block, not the error, ends the element.
        text += f"\n<details><summary>Error</summary>\n\n{code_block(error.strip()[-5000:])}\n</details>\n"
    append_summary(environ, text)


def report_failure(environ: Mapping[str, str], what: str, message: str, stream: TextIO | None = None) -> None:
    """Report a failed notification: a `::warning` line in the log and a note in the job summary."""
    redactor = Redactor.from_environ(environ)
    what, message = redactor.redact(what), redactor.redact(message)
    if environ.get("GITHUB_ACTIONS") == "true":
        print(annotation("warning", message, title=what), file=stream or sys.stdout)
    append_summary(environ, f"> [!WARNING]\n> **{inline(what)}**: {inline(message)}")
