"""What one task execution is as an MLflow run: its params, metrics and report.

Pure functions of the task list, the state record and the result; gitops/tracking/tracker.py logs them.
"""

from __future__ import annotations

import importlib.metadata
import re
from typing import Any, Mapping

from gitops.handlers import TaskResult, normalize
from gitops.model import TaskList


def metric_key(index: int, criterion: str, name: str) -> str:
    """`check.c2_tests_pass.seconds`: a check's number, namespaced by its criterion."""
    slug = re.sub(r"[^a-z0-9]+", "_", normalize(criterion)).strip("_")[:60]
    return f"check.c{index}_{slug}.{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}"


def package_version(name: str) -> str | None:
    """The installed version, read from metadata (importing dspy would cost seconds)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def run_params(tasklist: TaskList, task_id: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """What identifies an execution: the task, its attempt, and the dspy it ran with."""
    task = tasklist.tasks[task_id]
    return {
        "task_id": task_id,
        "phase": task.phase,
        "attempt": record["attempts"],
        "priority": task.priority or "",
        "dspy_version": package_version("dspy") or "not installed",
        "tasklist": tasklist.path,
    }


def run_metrics(result: TaskResult, seconds: float) -> dict[str, float]:
    """Duration, check counts by status, and every number a check measured."""
    numbers: dict[str, float] = {"duration_seconds": seconds}
    numbers.update({f"checks_{s}": 0 for s in ("passed", "failed", "skipped", "manual")})
    for index, check in enumerate(result.checks, 1):
        numbers[f"checks_{check['status']}"] = numbers.get(f"checks_{check['status']}", 0) + 1
        for name, value in check.get("metrics", {}).items():
            if isinstance(value, (int, float)):
                numbers[metric_key(index, check["criterion"], name)] = value
    return numbers


def task_report(tasklist: TaskList, task_id: str, record: Mapping[str, Any], result: TaskResult, seconds: float) -> str:
    """The run's report.md: the outcome and every check with its full evidence."""
    task = tasklist.tasks[task_id]
    lines = [
        f"# Task {task_id}: {task.title}",
        "",
        f"- Status: **{record['status']}** (attempt {record['attempts']}, {seconds:.2f} s)",
        f"- Commit: `{record.get('commit') or 'unknown'}`",
    ]
    if record.get("run_url"):
        lines.append(f"- Run: {record['run_url']}")
    lines += ["", "| # | Criterion | Result |", "|---|---|---|"]
    lines += [f"| {i} | {c['criterion']} | {c['status']} |" for i, c in enumerate(result.checks, 1)]
    for i, check in enumerate(result.checks, 1):
        lines += [
            "",
            f"## {i}. {check['criterion']} ({check['status']})",
            "",
            "```text",
            check["evidence"].rstrip(),
            "```",
        ]
        if check.get("metrics"):
            lines += ["", ", ".join(f"`{k}` = {v}" for k, v in check["metrics"].items())]
    if result.error:
        lines += ["", "## Error", "", "```text", result.error.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def summary(task_id: str, title: str, record: Mapping[str, Any], result: TaskResult) -> str:
    counts = ", ".join(
        f"{sum(c['status'] == s for c in result.checks)} {s}" for s in ("passed", "failed", "manual", "skipped")
    )
    return f"Task {task_id}: {title}: {record['status']} ({counts})"
