"""Which branch holds a phase's state commits, and the store of the phase in progress."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from gitops.state.git_store import GitStateStore


def phase_branch(project_slug: str, phase: int) -> str:
    """The branch that holds a phase's state commits and becomes its PR: `gitops/b-1006/phase-1`."""
    return f"gitops/{project_slug}/phase-{phase}"


def phase_store(repo_dir: Path, project_slug: str, phases: Sequence[int], *, remote: str = "origin",
                base: str = "main", **options: Any) -> GitStateStore:
    """The store of the phase in progress, as base's state.json says (merging a phase PR moves it on)."""
    state = GitStateStore(repo_dir, remote, base, base=base, **options).read()
    phase = state.get("current_phase") if state else None
    if phase is None:  # nothing recorded yet: the first phase; every task final: the last one
        phase = phases[-1] if state else phases[0]
    return GitStateStore(repo_dir, remote, phase_branch(project_slug, phase), base=base, **options)
