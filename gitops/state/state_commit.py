"""A state commit's two texts: the state.json blob read back (validated), and the message naming what changed."""
from __future__ import annotations

import json
from typing import Mapping

from gitops.errors import StateError
from gitops.state.schema import find_problem


def parse(raw: bytes, where: str, branch: str) -> dict:
    """A state.json blob from git, validated; StateError names the branch and the file."""
    hint = (f"Push a commit to {branch} that restores a valid file (`git log -p FETCH_HEAD` after "
            f"`git fetch origin {branch}` shows its history); gitops never overwrites it.")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise StateError(f"{where}: not valid JSON ({exc}). {hint}") from None
    problem = find_problem(data)
    if problem:
        raise StateError(f"{where}: {problem.describe()}. {hint}")
    return data


def describe(old: Mapping, new: Mapping, branch: str) -> str:
    """A commit message naming what changed: task and gate statuses, halts and pauses."""
    changes = []
    for kind, key in (("Task", "tasks"), ("gate", "gates")):
        before, after = old.get(key, {}), new.get(key, {})
        for name in after:
            was = before.get(name, {}).get("status")
            if was != after[name].get("status"):
                changes.append(f"{kind} {name} {was or 'new'} -> {after[name].get('status')}")
    for key in ("halted", "paused_by"):
        if old.get(key) != new.get(key):
            changes.append(f"{key} {'cleared' if not new.get(key) else 'set'}")
    subject = "; ".join(changes[:4]) + (f" (+{len(changes) - 4} more)" if len(changes) > 4 else "")
    return f"gitops: {subject or 'update state'}\n\nState of {new.get('project', '?')} on {branch}.\n"
