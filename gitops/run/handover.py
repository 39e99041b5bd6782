"""What a workflow's task job hands to its recording job: one task's result and work, as data.

The task job runs task code and holds no write token; the recording job holds one and runs no
task code (docs/github.md, *What task code can reach*). So everything in this document may have
been written by task code: `read` accepts exactly the shape `write` produces, for the task the
recording job expects, and nothing in it is ever executed. Its pieces reach the state only
through the engine's own transitions, and the whole new state is checked against the state
schema before it is committed (gitops.run.recording). Task code can still lie about its own
result, as it always could; it cannot write any other part of the state.

A hand-over that is missing, unreadable, or another task's is `HandOverLost`: the task's result
never arrived, so its outcome is unknown (gitops.run.recording records an interruption, not a
failure). One that arrived but is not what `write` produces is `HandOverRefused`.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from gitops.errors import BadInput
from gitops.forge import incidents as incident_data
from gitops.forge.incidents import Incident
from gitops.model import TaskStatus
from gitops.plan.windows import parse_time
from gitops.run import history_commits
from gitops.run.history_commits import HistoryCommit
from gitops.run.job_results import why_missing
from gitops.run.paths import safe_path

FORMAT = 2  # 2: the workflow run and attempt of the task job (`run`)
FINISHED, INTERRUPTED = "finished", "interrupted"
# The state keys a handler may update (gitops.handlers.Action); every other key of the state is
# the engine's, never a task's.
SHARED_KEYS = frozenset({"performance_metrics", "compatibility_issues", "rollback_ready", "test_results"})
MODES = frozenset({"100644", "100755", "120000"})
_KEYS = {"format", "task", "run", "after_attempt", "outcome", "checks", "error", "updates", "mlflow_run_id", "work",
         "history"}
_OPTIONAL = {"window", "incidents"}  # written only when there is one: older hand-overs lack them
_RUN_KEYS = {"id", "attempt"}
_CHECK_KEYS = {"criterion", "status", "evidence", "metrics", "approved_by", "kind"}
_FILE_KEYS = {"path", "mode", "content", "base"}
_WINDOW_KEYS = {"opened_at", "until", "evaluate", "evaluated_at"}
_BLOB = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_STATUSES = frozenset({"passed", "failed", "skipped", "manual"})

Work = Mapping[str, tuple[tuple[str, bytes] | None, str | None]]  # path -> ((mode, content) | deleted, blob began from)


class HandOverRefused(BadInput):
    """The task job's result is not what `write` produces: recorded as a failure, never applied."""


class HandOverLost(HandOverRefused):
    """No result of this task arrived: none was handed over, it arrived damaged, or it is another task's."""


class HandOverMissing(HandOverLost):
    """No hand-over arrived at all: its task job's result says why (gitops.run.job_results)."""


@dataclass(frozen=True)
class HandOver:
    task: str
    after_attempt: int  # the attempts recorded when the task job started this one
    outcome: str  # FINISHED, or INTERRUPTED (a signal; `error` says which)
    checks: list[dict[str, Any]]
    error: str | None
    updates: Mapping[str, Any]
    mlflow_run_id: str | None
    work: Work
    # Versions of work files to commit one by one before the state commit (gitops.run.history_commits).
    history: tuple[HistoryCommit, ...] = ()
    # The time window the task's action opened (gitops.plan.windows): the task waits, nothing is checked yet.
    window: Mapping[str, Any] | None = None
    # The workflow run and run attempt of the task job (GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT): the
    # recording job takes only its own run attempt's result.
    run: tuple[str | None, str | None] = (None, None)
    # Incidents the task reported (gitops.forge.incidents): the recording job opens them as issues.
    incidents: tuple[Incident, ...] = ()


def run_of(whoami: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The workflow run and attempt of a runner (gitops.run.identity), as a hand-over names them."""
    return whoami.get("github_run_id"), whoami.get("github_run_attempt")


def from_record(task_id: str, record: Mapping[str, Any], updates: Mapping[str, Any] | None, work: Work,
                history: tuple[HistoryCommit, ...] = (), run: tuple[str | None, str | None] = (None, None)) -> HandOver:
    """The hand-over of an attempt from its record in the task job's own state copy (HandOverStore);
    `updates`: the handler's, None when the attempt did not finish (a signal, an error)."""
    finished = updates is not None and record["status"] != TaskStatus.RUNNING.value
    error = record["error"] if finished or record["status"] != TaskStatus.RUNNING.value else (
        "the task job stopped with an error before it recorded the result (see the job's log)")
    window = record.get("window") if finished and record["status"] == TaskStatus.WAITING.value else None
    return HandOver(task_id, record["attempts"] - 1, FINISHED if finished else INTERRUPTED,
                    list(record["checks"]) if finished else [], error, dict(updates or {}),
                    record.get("mlflow_run_id"), work, history, dict(window) if window else None, run)


def write(path: Path, handover: HandOver) -> None:
    """The document, as JSON with the work's contents in base64, written whole or not at all."""
    document = {
        "format": FORMAT, "task": handover.task, "run": {"id": handover.run[0], "attempt": handover.run[1]},
        "after_attempt": handover.after_attempt,
        "outcome": handover.outcome, "checks": handover.checks, "error": handover.error,
        "updates": dict(handover.updates), "mlflow_run_id": handover.mlflow_run_id,
        "work": [{"path": name, "mode": content[0] if content else None,
                  "content": base64.b64encode(content[1]).decode() if content else None, "base": base}
                 for name, (content, base) in sorted(handover.work.items())],
        "history": history_commits.encode(handover.history),
    }
    if handover.window is not None:  # only then: a hand-over without a window reads as before
        document["window"] = dict(handover.window)
    if handover.incidents:  # likewise: a hand-over without incidents reads as an older one
        document["incidents"] = incident_data.encode(handover.incidents)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A job cancelled mid-write must not leave half a document for the upload step (`if: always()`).
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(json.dumps(document, sort_keys=True))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def read(path: Path, task_id: str) -> HandOver:
    """The hand-over of Task `task_id` at `path`; HandOverLost when none of this task's arrived,
    HandOverRefused saying what is wrong with one that did."""
    where = f"the result handed over for Task {task_id}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HandOverMissing(f"{where} is missing: {why_missing(None)}") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise HandOverLost(f"{where} arrived damaged: it is not readable JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("task") != task_id:
        found = data if isinstance(data, dict) else {}
        raise HandOverLost(f"{where} is not this task's: it is for Task {str(found.get('task'))[:40]!r} (format "
                           f"{str(found.get('format'))[:10]}), not Task {task_id} (format {FORMAT})")
    problem = _problem(data)
    if problem:
        raise HandOverRefused(f"{where} was refused: {problem}")
    work = {item["path"]: ((item["mode"], base64.b64decode(item["content"], validate=True))
                           if item["content"] is not None else None, item["base"]) for item in data["work"]}
    return HandOver(data["task"], data["after_attempt"], data["outcome"], data["checks"], data["error"],
                    data["updates"], data["mlflow_run_id"], work, history_commits.decode(data["history"]),
                    data.get("window"), (data["run"]["id"], data["run"]["attempt"]),
                    incident_data.decode(data.get("incidents", [])))


def _problem(data: Any) -> str | None:
    if not isinstance(data, dict) or set(data) - _OPTIONAL != _KEYS:
        return f"expected an object with exactly the keys {', '.join(sorted(_KEYS))}"
    if "window" in data and not _window_ok(data["window"], data["outcome"]):  # optional: a task that opened one
        return ("the window is not an object of opened_at, until, evaluate (text) and evaluated_at (null) "
                "of a finished task")
    if "incidents" in data and incident_data.problem(data["incidents"]):
        return incident_data.problem(data["incidents"])
    run = data["run"]
    if not (isinstance(run, dict) and set(run) == _RUN_KEYS
            and all(isinstance(v, (str, type(None))) for v in run.values())):
        return "run is not an object with exactly the keys attempt, id (text or null)"
    if not _integer(data["after_attempt"]) or data["after_attempt"] < 0:
        return "after_attempt is not an integer >= 0"
    if data["outcome"] not in (FINISHED, INTERRUPTED):
        return f"outcome is not {FINISHED} or {INTERRUPTED}"
    if not all(isinstance(data[key], (str, type(None))) for key in ("error", "mlflow_run_id")):
        return "error or mlflow_run_id is not text or null"
    if data["outcome"] == INTERRUPTED and not data["error"]:
        return "an interrupted task without the reason"
    if not isinstance(data["updates"], dict) or not set(data["updates"]) <= SHARED_KEYS:
        return f"updates may only hold {', '.join(sorted(SHARED_KEYS))}"
    if not isinstance(data["checks"], list):
        return "checks is not a list"
    for check in data["checks"]:
        if not _check_ok(check):
            return f"a malformed check ({str(check)[:200]})"
    if not isinstance(data["work"], list):
        return "work is not a list"
    seen: set[str] = set()
    for item in data["work"]:
        problem = _file_problem(item)
        if problem:
            return problem
        if item["path"] in seen:
            return f"the file {item['path']!r} is listed twice"
        seen.add(item["path"])
    return history_commits.problems(data["history"])


def _window_ok(window: Any, outcome: Any) -> bool:
    """A window as gitops.plan.windows.opened writes it, with times the engine can read."""
    if not (outcome == FINISHED and isinstance(window, dict) and set(window) == _WINDOW_KEYS
            and window["evaluated_at"] is None
            and all(isinstance(window[key], str) for key in ("opened_at", "until", "evaluate"))):
        return False
    try:
        parse_time(window["opened_at"]), parse_time(window["until"])
    except ValueError:
        return False
    return True


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_ok(check: Any) -> bool:
    return (isinstance(check, dict) and {"criterion", "status", "evidence", "metrics"} <= set(check) <= _CHECK_KEYS
            and isinstance(check["criterion"], str) and check["status"] in _STATUSES
            and isinstance(check["evidence"], str) and isinstance(check["metrics"], dict)
            and all(isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                    for k, v in check["metrics"].items())
            and isinstance(check.get("kind", ""), str) and isinstance(check.get("approved_by"), (str, type(None))))


def _file_problem(item: Any) -> str | None:
    if not isinstance(item, dict) or set(item) != _FILE_KEYS:
        return f"a work entry is not an object with exactly the keys {', '.join(sorted(_FILE_KEYS))}"
    name = item["path"]
    if not isinstance(name, str) or not safe_path(name):
        return f"the work path {str(name)[:200]!r} is not a plain path inside the repository"
    if item["base"] is not None and not (isinstance(item["base"], str) and _BLOB.fullmatch(item["base"])):
        return f"the work entry {name!r} names no blob it began from"
    if item["content"] is None:
        return None if item["mode"] is None else f"the deleted file {name!r} has a mode"
    if item["mode"] not in MODES or not isinstance(item["content"], str):
        return f"the work entry {name!r} has no valid mode and content"
    try:
        base64.b64decode(item["content"], validate=True)
    except (binascii.Error, ValueError):
        return f"the content of {name!r} is not base64"
    return None
