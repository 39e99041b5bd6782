"""Build TaskList values in code for planner and runner tests."""
from __future__ import annotations

from gitops.model import Criterion, Header, Phase, SafetyRules, Task, TaskList


def task(
    task_id: str,
    deps: tuple[str, ...] = (),
    pause: bool = False,
    criteria: int = 2,
    run: str | None = None,
    priority: str = "High",
    title: str | None = None,
    do: tuple[str, ...] = (),
) -> Task:
    return Task(
        id=task_id,
        title=title or f"Do {task_id}",
        phase=int(task_id.split(".")[0]),
        line=1,
        priority=priority,
        dependencies=deps,
        auto_advance=not pause,
        pause_after=pause,
        when_ready_prompt=f"{task_id} complete. Proceed?" if pause else None,
        do=do,
        done_when=tuple(Criterion(f"criterion {i} of {task_id}", 1) for i in range(1, criteria + 1)),
        run=run,
    )


def tasklist(*tasks: Task, phase_titles: dict[int, str] | None = None, safety: SafetyRules = SafetyRules()) -> TaskList:
    numbers = sorted({t.phase for t in tasks})
    titles = phase_titles or {}
    phases = tuple(
        Phase(n, titles.get(n, f"Phase {n}"), 1, tuple(t.id for t in tasks if t.phase == n)) for n in numbers
    )
    return TaskList(
        path="test.md",
        title="Test",
        header=Header(project="T"),
        phases=phases,
        tasks={t.id: t for t in tasks},
        safety=safety,
        sha256="0" * 64,
    )
