"""Markdown a person reads: HotFix issues (from the task list's template) and progress summaries."""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from gitops.markdown_text import cell, close_open_fence, code_block, html_text, inline, mermaid_block, mermaid_label
from gitops.model import TaskList, TaskStatus
from gitops.plan.readiness import LOST, result_lost

MAX_BODY = 60_000  # GitHub rejects bodies over 65,536 characters; leave room for the marker
DEFAULT_TEMPLATE = (
    "**Priority**: Critical\n**Depends on**: `[failed_task_id]`\n\n**Do**:\n1. Reproduce the error\n"
    "2. Fix the issue\n3. Add regression test\n4. Re-run failing validation\n\n**Done when**:\n"
    "- Original task's \"Done when\" criteria pass\n- New regression test passes\n"
)
GRAPH_COLOURS = {
    TaskStatus.PENDING.value: "#eeeeee",
    TaskStatus.RUNNING.value: "#cce5ff",
    TaskStatus.WAITING.value: "#d1ecf1",
    TaskStatus.AWAITING_APPROVAL.value: "#fff3cd",
    TaskStatus.DONE.value: "#d4edda",
    TaskStatus.FAILED.value: "#f8d7da",
    TaskStatus.SKIPPED.value: "#e2e3e5",
}
STATUS_ICON = {
    TaskStatus.PENDING.value: "⏳",
    TaskStatus.RUNNING.value: "▶️",
    TaskStatus.WAITING.value: "⏱️",
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
    # The title is an issue's title (plain text); in the body the task's title is Markdown text.
    title = fill_template(heading, number, short, task.id)
    body = fill_template(template.body if template else DEFAULT_TEMPLATE, number, inline(short), task.id)
    record = state["tasks"][task.id]
    checks = "\n".join(
        f"| {cell(c['criterion'])} | {cell(c['status'])} | {cell(c['evidence'])} |" for c in record["checks"]
    )
    details = (
        f"\n\n## What failed\n\nTask {task.id} ({inline(task.title)}) failed on attempt {hotfix['attempt']} "
        f"at {record.get('finished_at')}.\n\n{code_block(_cut(hotfix['error'], 20_000))}\n"
        f"\n| Criterion | Result | Evidence |\n|---|---|---|\n{checks}\n"
        f"\n## When the fix is in\n\n`gitops retry {task.id}` resolves {hotfix_id} and re-runs the task."
    )
    return title, _cap(body + details, MAX_BODY)


def progress_markdown(
    tasklist: TaskList,
    state: Mapping[str, Any],
    next_step: str,
    run_link: Callable[[str], str] | None = None,
) -> str:
    """The phase summary: progress table, task graph, each task's evidence, and the next step."""
    done = state["completed_count"]
    total = state["total_tasks"]
    rows = []
    for task in tasklist.tasks.values():
        record = state["tasks"][task.id]
        status = record["status"]
        passed = sum(1 for c in record["checks"] if c["status"] == "passed")
        run = record.get("mlflow_run_id")
        tracked = f"[{run[:8]}]({run_link(run)})" if run and run_link else (run[:8] if run else "")
        # Failed only so that retry runs it: its outcome is unknown (transitions.Lost).
        shown = f"⚠️ {LOST}: retry it" if result_lost(record) else f"{STATUS_ICON.get(status, '')} {status}"
        rows.append(
            f"| {task.id} | {cell(task.title)} | {shown} | "
            f"{passed}/{len(task.done_when)} | {record['attempts']} | {tracked} |"
        )
    hotfixes = [h for h in state["hotfixes"] if h["status"] == "open"]
    lines = [
        f"## {inline(state['project'])}: {done}/{total} tasks done",
        "",
        f"**Next step**: {inline(next_step)}",
        "",
        "| Task | Title | Status | Checks passed | Attempts | MLflow run |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    if hotfixes:
        lines += ["**Open HotFixes**: " + ", ".join(
            inline(f"{h['id']} (Task {h['task']}): {h.get('issue') or 'not posted yet'}") for h in hotfixes), ""]
    lines += [task_graph(tasklist, state), ""]
    lines += [_evidence(task, state["tasks"][task.id]) for task in tasklist.tasks.values() if state["tasks"][task.id]["checks"]]
    return _cap("\n".join(lines), MAX_BODY)


def task_graph(tasklist: TaskList, state: Mapping[str, Any]) -> str:
    """The dependency graph as a Mermaid flowchart, one subgraph per phase, coloured by status."""
    node = lambda task_id: "t" + task_id.replace(".", "_")  # noqa: E731
    lines = ["flowchart LR"]
    for phase in tasklist.phases:
        lines.append(f'  subgraph phase{phase.number}["Phase {phase.number}: {mermaid_label(phase.title)}"]')
        for task_id in phase.task_ids:
            status = state["tasks"][task_id]["status"]
            lines.append(f'    {node(task_id)}["{task_id} {mermaid_label(tasklist.tasks[task_id].title)}"]:::{status}')
        lines.append("  end")
    for task in tasklist.tasks.values():
        lines += [f"  {node(dep)} --> {node(task.id)}" for dep in task.dependencies if dep in tasklist.tasks]
    lines += [f"  classDef {status} fill:{colour}" for status, colour in GRAPH_COLOURS.items()]
    return mermaid_block("\n".join(lines))


def _evidence(task: Any, record: Mapping[str, Any]) -> str:
    rows = "\n".join(f"| {cell(c['criterion'])} | {cell(c['status'])} | {cell(c['evidence'])} |" for c in record["checks"])
    summary = html_text(f"Task {task.id}: {record['status']} (attempt {record['attempts']})")
    return (
        f"<details><summary>{summary}</summary>\n\n"
        f"| Criterion | Result | Evidence |\n|---|---|---|\n{rows}\n\n</details>"
    )


def _cut(text: str, limit: int) -> str:
    """Plain text cut to the limit (the notice says where the rest is)."""
    if len(text) <= limit:
        return text
    return text[: limit - 80] + "\n\n… (truncated; the full log is in the task's log file)"


def _cap(markdown: str, limit: int) -> str:
    """Markdown cut to the limit: a code block the cut leaves open is closed before the notice."""
    if len(markdown) <= limit:
        return markdown
    return close_open_fence(markdown[: limit - 90]) + "\n\n… (truncated; the full log is in the task's log file)"
