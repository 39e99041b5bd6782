"""What a command of the runner ends with: the next step, and the exit code it maps to.

Apart from the runner because the CLI and the tests read it without running anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gitops.plan.planner import Step, StepKind

EXIT_OK, EXIT_STOPPED = 0, 1
# Where the pipeline waits for a person, or cannot go on: the command says so with its exit code.
STOPPED = (StepKind.PAUSED, StepKind.INTERRUPTED, StepKind.HALTED, StepKind.BLOCKED, StepKind.REJECTED)


@dataclass
class Outcome:
    step: Step
    exit_code: int
    ran: list[str] = field(default_factory=list)
    stopped_at: str | None = None  # --until reached


def exit_for(step: Step) -> int:
    """The exit code of a command that stopped at `step`."""
    return EXIT_STOPPED if step.kind in STOPPED else EXIT_OK
