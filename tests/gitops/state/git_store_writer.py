"""A separate OS process for the git_store concurrency test: `python git_store_writer.py CLONE BRANCH K N GO_FILE`.

Waits until GO_FILE exists (so that all writers start together), then makes N updates of
state.json on BRANCH of the clone's `origin`, each adding task "wK.i" and incrementing
performance_metrics["counter"]; every update is its own commit and push. Prints how many
pushes lost a race (and were retried).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from gitops.state.git_store import GitStateStore  # noqa: E402


def _task() -> dict:
    return {"status": "done", "attempts": 1, "started_at": None, "finished_at": None, "commit": None,
            "run_url": None, "mlflow_run_id": None, "error": None, "checks": []}


def _adding(task_id: str):
    def change(current: dict) -> dict:
        current["tasks"][task_id] = _task()
        metrics = current["performance_metrics"]
        metrics["counter"] = metrics.get("counter", 0) + 1
        return current

    return change


def main(clone: Path, branch: str, writer: int, updates: int, go: Path) -> None:
    """Wait for the start signal, then make `updates` pushed updates."""
    backoffs: list[float] = []

    def sleep(seconds: float) -> None:
        backoffs.append(seconds)
        time.sleep(seconds)

    store = GitStateStore(clone, "origin", branch, max_attempts=60, backoff=0.01, max_backoff=0.3, sleep=sleep)
    while not go.exists():
        time.sleep(0.005)
    for i in range(updates):
        store.update(_adding(f"w{writer}.{i}"))
    print(f"lost races: {len(backoffs)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5]))
