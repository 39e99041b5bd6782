"""Markdown a person reads: HotFix issues (from the task list's template) and progress summaries."""
from __future__ import annotations

import re
from typing import Any, Mapping

from gitops.model import TaskList, TaskStatus

MAX_BODY = 60_000  # GitHub rejects bodies over 65,536 characters; leave room for the marker
DEFAULT_TEMPLATE = (
    "**Priority**: Critical\n**Depends on**: `[failed_task_id]`\n\n**Do**:\n1. Reproduce the error\n"
    "2. Fix the issue\n3. Add regression test\n4. Re-run failing validation\n\n**Done when**:\n"
    "- Original task's \"Done when\" criteria pass\n- New regression test passes\n"
)
STATUS_ICON = {
    TaskStatus.PENDING.value: "⏳",
    TaskStatus.RUNNING.value: "▶️",
    TaskStatus.AWAITING_APPROVAL.value: "🛑",
    TaskStatus.DONE.value: "✅",
    TaskStatus.FAILED.value: "❌",
    TaskStatus.SKIPPED.value: "⏭️",
}


def fill_template(text: str, number: int, short: str, task_id: str) -> str:
    text = re.sub(r"`?<n>`?", str(number), text)
    text = re.sub(r"`?<short description>`?", short, text)
    return re.sub(r"`?\[failed_task_id\]`?", f"Task {task_id}", text)


def hotfix_issue(tasklist: TaskList, state: Mapping[str, Any], hotfix_id: str) -> tuple[str, str]:
    """Title and body of the HotFix issue, made from the task list's HotFix template."""
    hotfix = next(h for h in state["hotfixes"] if h["id"] == hotfix_id)
    task = tasklist.tasks[hotfix["task"]]
    number = int(hotfix_id.rsplit("-", 1)[1])
    short = f"Task {task.id}: {task.title}"
    template = tasklist.hotfix_template
    heading = template.heading if template else "T-HotFix-<n> Fix <short description>"
    title = fill_template(heading, number, short, task.id)
    body = fill_template(template.body if template else DEFAULT_TEMPLATE, number, short, task.id)
    record = state["tasks"][task.id]
    checks = "\n".join(
        f"| {c['criterion']} | {c['status']} | {_cell(c['evidence'])} |" for c in record["checks"]
    )
    details = (
        f"\n\n## What failed\n\nTask {task.id} ({task.title}) failed on attempt {hotfix['attempt']} "
        f"at {record.get('finished_at')}.\n\n```text\n{_cap(hotfix['error'], 20_000)}\n```\n"
        f"\n| Criterion | Result | Evidence |\n|---|---|---|\n{checks}\n"
        f"\n## When the fix is in\n\n`gitops retry {task.id}` resolves {hotfix_id} and re-runs the task."
    )
    return title, _cap(body + details, MAX_BODY)


def progress_markdown(tasklist: TaskList, state: Mapping[str, Any], next_step: str) -> str:
    """The phase summary: a progress table and the next step."""
    done = state["completed_count"]
    total = state["total_tasks"]
    rows = []
    for task in tasklist.tasks.values():
        record = state["tasks"][task.id]
        status = record["status"]
        passed = sum(1 for c in record["checks"] if c["status"] == "passed")
        rows.append(
            f"| {task.id} | {task.title} | {STATUS_ICON.get(status, '')} {status} | "
            f"{passed}/{len(task.done_when)} | {record['attempts']} |"
        )
    hotfixes = [h for h in state["hotfixes"] if h["status"] == "open"]
    lines = [
        f"## {state['project']}: {done}/{total} tasks done",
        "",
        "| Task | Title | Status | Checks passed | Attempts |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]
    if hotfixes:
        lines += ["**Open HotFixes**: " + ", ".join(f"{h['id']} (Task {h['task']})" for h in hotfixes), ""]
    lines.append(f"**Next step**: {next_step}")
    return _cap("\n".join(lines), MAX_BODY)


def _cell(text: str) -> str:
    return _cap(" ".join(str(text).split()), 300).replace("|", "\\|")


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 80] + "\n\n… (truncated; the full log is in the task's log file)"
