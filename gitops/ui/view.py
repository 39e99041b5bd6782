"""What `gitops status` and `gitops plan` show: one JSON shape, drawn with rich for people."""
from __future__ import annotations

import json
from typing import Any, Callable, Mapping

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from gitops.model import Gate, TaskList
from gitops.plan import readiness, windows
from gitops.plan.drift import has_drifted
from gitops.plan.planner import Step
from gitops.plan.policy import checkpoint_reasons, needs_deploy_approval
from gitops.plan.quality import quality_gates
from gitops.plan.readiness import LOST, result_lost
from gitops.ui.reports import STATUS_ICON


def status_json(
    tasklist: TaskList,
    state: Mapping[str, Any],
    step: Step,
    state_path: str,
    tasklist_changed: bool = False,
    run_link: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """The stable `gitops status --json` document."""
    total = state["total_tasks"]
    done = state["completed_count"]
    tasks = []
    for task in tasklist.tasks.values():
        record = state["tasks"][task.id]
        counts: dict[str, int] = {}
        for check in record["checks"]:
            counts[check["status"]] = counts.get(check["status"], 0) + 1
        tasks.append(
            {
                "id": task.id,
                "title": task.title,
                "phase": task.phase,
                "status": record["status"],
                "attempts": record["attempts"],
                "checks": counts,
                "criteria": len(task.done_when),
                # issue 13: criteria besides Done when (Quality Gates, Testing Requirements), by
                # kind, and what the task needs that is not a task here: shown, not waited on
                "further_criteria": [{"kind": c.kind, "text": c.text} for c in task.further_criteria],
                "external_dependencies": [{"kind": d.kind, "text": d.text} for d in task.external_dependencies],
                "mlflow_run_id": record.get("mlflow_run_id"),
                "mlflow_run": run_link(record["mlflow_run_id"]) if run_link and record.get("mlflow_run_id") else None,
                "stale": has_drifted(task, record),
                # a task waiting for its time window: when it ends (gitops.plan.windows)
                "window_until": (record.get("window") or {}).get("until") if record["status"] == "waiting" else None,
                # who rejected its evaluation's production review: it is not evaluated until a retry
                "window_rejected_by": (windows.rejection(record) or {}).get("by"),
                "interrupted": result_lost(record),  # failed only so that retry runs it: outcome unknown
            }
        )
    return {
        "project": state["project"],
        "tasklist": tasklist.path,
        "state": state_path,
        "progress": {"done": done, "total": total, "percent": round(100 * done / total) if total else 100},
        "current_phase": state["current_phase"],
        "current_task": state["current_task"],
        "halted": state["halted"],
        "paused_by": state["paused_by"],
        "consecutive_failures": state["consecutive_failures"],
        "tasks": tasks,
        "gates": state["gates"],
        "hotfixes": [h for h in state["hotfixes"] if h["status"] == "open"],
        "quality_gates": [g.to_json() for g in quality_gates(tasklist, state)],
        "next": step.to_json(),
        "tasklist_changed": tasklist_changed,
        "stale": [t["id"] for t in tasks if t["stale"]],
        "mlflow": run_link("<run id>") if run_link else None,
    }


def step_outputs(doc: Mapping[str, Any]) -> dict[str, str]:
    """The plan job's step outputs (`gitops status --outputs`): one line each, JSON lists compact."""
    phase = doc["current_phase"]
    gate = doc["gates"].get(Gate.phase(phase).id, {}).get("status", "") if phase is not None else ""

    def ids(status: str) -> str:
        return json.dumps([t["id"] for t in doc["tasks"] if t["status"] == status], separators=(",", ":"))

    # Tasks may start: not halted, not paused by a HotFix, the current phase's gate (if any) approved.
    proceed = doc["halted"] is None and doc["paused_by"] is None and phase is not None and gate in ("", "approved")
    return {
        "current_phase": "" if phase is None else str(phase),
        "phase_gate": gate,
        "done": ids("done"),
        "pending": ids("pending"),
        "awaiting": ids("awaiting_approval"),
        "proceed": "true" if proceed else "false",
    }


def plan_json(tasklist: TaskList, state: Mapping[str, Any], step: Step, runnable: frozenset[str]) -> dict[str, Any]:
    """The stable `gitops plan --json` document: the next step and every task's policy."""
    tasks = []
    for task in tasklist.tasks.values():
        tasks.append(
            {
                "id": task.id,
                "status": state["tasks"][task.id]["status"],
                "stale": has_drifted(task, state["tasks"][task.id]),
                "executor": "handler-or-run" if task.id in runnable else "manual",
                "run": task.run,
                "ready": readiness.why_not_ready(tasklist, state, task.id) is None,
                "waiting_for": readiness.why_not_ready(tasklist, state, task.id),
                "checkpoint": checkpoint_reasons(tasklist, task),
                "production_approval": needs_deploy_approval(tasklist, task),
            }
        )
    return {"next": step.to_json(), "tasks": tasks, "max_consecutive_failures": tasklist.safety.max_consecutive_failures}


def print_status(console: Console, doc: Mapping[str, Any]) -> None:
    progress = doc["progress"]
    console.print(
        f"[bold]{doc['project']}[/bold]  {progress['done']}/{progress['total']} tasks done "
        f"({progress['percent']}%)  ·  phase {doc['current_phase'] or '-'}  ·  {doc['tasklist']}"
    )
    rows = []
    for task in doc["tasks"]:
        checks = ", ".join(f"{n} {s}" for s, n in sorted(task["checks"].items())) or "-"
        run = (task["mlflow_run_id"] or "-")[:8]
        status = f"{STATUS_ICON.get(task['status'], '')} {task['status']}"
        if task.get("window_until"):
            status += f" until {task['window_until']}"
        if task.get("window_rejected_by"):
            status += f", its evaluation rejected by {task['window_rejected_by']}: retry it"
        if task.get("interrupted"):
            status = f"⚠️ {LOST}: retry it"
        rows.append((task["id"], task["title"], status, checks, str(task["attempts"]), run))
    _print_table(console, ("Task", "Title", "Status", "Checks", "Attempts", "MLflow run"), rows)
    if doc.get("mlflow"):
        console.print(f"MLflow runs: {doc['mlflow']}")
    if doc["tasklist_changed"]:
        console.print("[yellow]The task list changed since state.json was last written.[/yellow]")
    if doc["stale"]:
        ids = ", ".join(doc["stale"])
        console.print(f"[yellow]Stale[/yellow]: {ids}: done, but their steps or criteria changed since they ran. "
                      f"Re-run them with `gitops run --rerun-stale` (or `gitops retry ID`), or leave them done.")
    waiting = [g for g, r in doc["gates"].items() if r["status"] == "pending"]
    approved = [f"{g} ({r['approved_by']})" for g, r in doc["gates"].items() if r["status"] == "approved"]
    if waiting:
        console.print(f"[yellow]Gates waiting[/yellow]: {', '.join(waiting)}")
    if approved:
        console.print(f"Gates approved: {', '.join(approved)}")
    for hotfix in doc["hotfixes"]:
        console.print(f"[red]{hotfix['id']}[/red] open for Task {hotfix['task']}: {hotfix.get('issue') or 'issue not posted yet'}")
    if doc["halted"]:
        console.print(f"[bold red]Halted[/bold red]: {doc['halted']['reason']}")
    console.print("Quality gates: " + "  ".join(f"{_mark(g['status'])} {g['name']}" for g in doc["quality_gates"]))
    print_step(console, doc["next"])


def print_plan(console: Console, doc: Mapping[str, Any]) -> None:
    rows = []
    for task in doc["tasks"]:
        checkpoint = "; ".join(task["checkpoint"]) or "auto-advance"
        if task["production_approval"]:
            checkpoint = "production approval before it runs; " + checkpoint
        status = f"{task['status']} (stale: re-run with --rerun-stale)" if task["stale"] else task["status"]
        rows.append((task["id"], status, task["executor"], task["waiting_for"] or "ready", checkpoint))
    _print_table(console, ("Task", "Status", "Executor", "Waiting for", "Checkpoint"), rows)
    console.print(f"Halt after {doc['max_consecutive_failures']} consecutive failures.")
    print_step(console, doc["next"])


# Up to this many rows a rich Table (wrapped to the terminal); beyond, plain aligned lines: rich
# lays out ~1 ms per row, 10 s for a 10,000-task list, and a table that long is read by grep.
RICH_ROWS = 200


def _print_table(console: Console, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    if len(rows) <= RICH_ROWS:
        table = Table(box=None, pad_edge=False)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    widths = [max(cell_len(column), *(cell_len(row[i]) for row in rows)) for i, column in enumerate(columns)]
    lines = ["  ".join(cell + " " * (width - cell_len(cell)) for cell, width in zip(line, widths)).rstrip()
             for line in [columns, *rows]]
    console.out("\n".join(lines), highlight=False)


def print_step(console: Console, step: Mapping[str, Any]) -> None:
    console.print(f"[bold]Next[/bold]: {step['message']}")
    for criterion in step["unsigned"]:
        console.print(f"  [ ] {criterion}")
    if step["command"]:
        console.print(f"  → [cyan]{step['command']}[/cyan]")


def _mark(status: str) -> str:
    return {"met": "✅", "failing": "❌", "in progress": "…"}.get(status, "·")
