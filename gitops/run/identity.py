"""Who runs a task, as state.json records it, and what became of a recorded local runner.

A task record says `running` from its Started write until its Finished write; a runner killed
in between (kill -9, a lost machine, a cancelled GitHub job) never writes Finished. The record
therefore names its runner (`runner`: host and pid, with the process's incarnation so that a
reused pid is not mistaken for it; on GitHub also the workflow run and attempt), and
gitops.plan.stale decides from it whether the runner is gone.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Callable, Mapping

from gitops.run.command import end_group
from gitops.tracking.processes import alive, incarnation


def this_runner(environ: Mapping[str, str]) -> dict[str, Any]:
    """The `runner` of a task this process starts."""
    github = environ.get("GITHUB_ACTIONS") == "true" and environ.get("GITHUB_RUN_ID")
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "process": incarnation(os.getpid()),
        "github_run_id": environ.get("GITHUB_RUN_ID") if github else None,
        "github_run_attempt": environ.get("GITHUB_RUN_ATTEMPT", "1") if github else None,
    }


def local_fate(pid: int, process: str | None) -> str | None:
    """None while the recorded process (on this host) still runs; else what became of it."""
    if not alive(pid):
        return "is no longer running (killed or crashed while the task ran)"
    now = incarnation(pid)
    if process and now and now != process:
        return "is now another process (the pid was reused after the runner ended)"
    return None


# Set in a **Run** command's environment (and so inherited by everything it starts) to its
# runner's incarnation: when that runner is gone, its orphans are found by it and ended.
RUNNER_ENV = "GITOPS_RUNNER"


def orphan_groups(process: str) -> list[int]:
    """Process groups of the live processes started for the runner `process` (a kill -9 of gitops
    leaves its command running). Empty without /proc."""
    marker = f"{RUNNER_ENV}={process}".encode()
    groups = set()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                groups.add(os.getpgid(int(environ.parent.name)))
        except (OSError, ValueError):  # gone meanwhile, or not ours to read
            continue
    return sorted(groups)


def end_orphans(runner: Mapping[str, Any] | None, whoami: Mapping[str, Any], note: Callable[[str], None]) -> None:
    """End what a dead local runner's command left running (kill -9 ends gitops, not its command)."""
    if not runner or runner.get("host") != whoami["host"] or not runner.get("process"):
        return
    for group in orphan_groups(runner["process"]):
        note(f"Ending process group {group}, left running by the task's command.")
        end_group(group)
