"""A separate OS process for the concurrency tests: `python state_writer.py STATE K N GO_FILE`.

Waits until GO_FILE exists (so that all writers start together), then makes N `update()`
calls on STATE, each adding task "K.i" and incrementing performance_metrics["counter"].
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from gitops.model import Header, TaskList  # noqa: E402
from gitops.state import document
from gitops.state import file as state  # noqa: E402

EMPTY = TaskList(path="writers.md", title="writers", header=Header(), phases=(), tasks={})


def _task() -> dict:
    return {
        "status": "done",
        "attempts": 1,
        "started_at": None,
        "finished_at": None,
        "commit": None,
        "run_url": None,
        "mlflow_run_id": None,
        "error": None,
        "checks": [],
    }


def _adding(task_id: str):
    def change(current: dict) -> dict:
        current["tasks"][task_id] = _task()
        metrics = current["performance_metrics"]
        # A pause between read and write widens the window in which an unlocked writer would race.
        time.sleep(0.001)
        metrics["counter"] = metrics.get("counter", 0) + 1
        return current

    return change


def main(path: Path, writer: int, updates: int, go: Path) -> None:
    """Wait for the start signal, then make `updates` locked updates."""
    while not go.exists():
        time.sleep(0.005)
    for i in range(updates):
        state.update(path, _adding(f"{writer}.{i}"), create=lambda: document.new_state(EMPTY, "t0"))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
