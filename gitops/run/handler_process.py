"""A handler in a process of its own, without the engine's credentials (issue 11, item 8).

When the engine's environment holds a credential (on GitHub: the job's GITHUB_TOKEN), a handler
runs in a child process whose environment has none (run/task_env.py), so neither the handler nor
anything it imports can read it from os.environ. The parent sends the request (trusted: pickle)
on stdin; the child answers in a JSON file (the child runs task code, so its answer is data the
parent checks, never something it unpickles); whatever the handler prints, and ctx.log, reaches
the parent line by line on stdout.

    parent: run_apart(...)  ->  python -m gitops.run.handler_process  ->  result JSON
"""
from __future__ import annotations

import copyreg
import io
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from gitops.forge import incidents as incident_data
from gitops.handlers import Check, Registry, TaskContext, TaskResult
from gitops.model import CheckStatus, Task
from gitops.run.command import end_group
from gitops.run.execute import all_checks, run_registered, tail

STATUSES = frozenset(s.value for s in CheckStatus)


def run_apart(ref: str, task: Task, root: Path, workdir: Path, attempt: int, environ: Mapping[str, str],
              state: Mapping[str, Any], log: Callable[[str], None], scheduled_windows: bool = False,
              evaluation: bool = False) -> TaskResult:
    """Run the handler `ref` of `task` in a child process with `environ` (already without credentials);
    `evaluation`: its window's evaluation and checks (gitops.run.execute.evaluate_window)."""
    workdir.mkdir(parents=True, exist_ok=True)
    fd, result_name = tempfile.mkstemp(dir=workdir, prefix=".handler-result-", suffix=".json")
    os.close(fd)
    result_path = Path(result_name)
    request = {"ref": ref, "task": task, "root": str(root), "workdir": str(workdir), "attempt": attempt,
               "state": json.loads(json.dumps(state, default=_plain)), "result": str(result_path),
               "scheduled_windows": scheduled_windows, "evaluation": evaluation}
    # The child imports what this process can: the handler may live in the checkout (tests, a
    # team's own package) rather than an installed one.
    env = {**environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gitops.run.handler_process"], cwd=root, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own group: ended with everything it started
    lines: list[str] = []
    try:
        assert proc.stdin is not None and proc.stdout is not None
        with proc.stdin:
            proc.stdin.write(_pickled(request))
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            del lines[:-200]  # a bounded tail for the error, whatever the handler prints
            log(line)
        returncode = proc.wait()
    finally:
        end_group(proc.pid)  # an interruption ends the handler and whatever it started
        if proc.poll() is None:
            proc.wait()
    try:
        return _answer(task, result_path, returncode, lines)
    finally:
        result_path.unlink(missing_ok=True)


def _pickled(request: Mapping[str, Any]) -> bytes:
    """The request as pickle; a Task's mappings are frozen (MappingProxyType), which pickle cannot
    take by itself: they go as their dicts and come back frozen."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer)
    pickler.dispatch_table = {**copyreg.dispatch_table, MappingProxyType: lambda m: (frozen, (dict(m),))}
    pickler.dump(request)
    return buffer.getvalue()


def frozen(mapping: dict) -> Mapping[str, Any]:
    """A frozen mapping again, in the child (pickle names this function, not the builtin type)."""
    return MappingProxyType(mapping)


def _answer(task: Task, path: Path, returncode: int, lines: list[str]) -> TaskResult:
    """The child's result as a TaskResult, checked field by field; a missing or malformed one fails the task."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        data = None
    problem = _problem(data)
    if problem is None:
        return TaskResult(data["checks"], data["error"], data["updates"], data["log"], tuple(data.get("artifacts", ())),
                          data.get("window_seconds"), incident_data.decode(data.get("incidents", [])))
    said = tail("\n".join(lines))
    error = (f"the handler of Task {task.id} ran in a process of its own, which ended with exit code {returncode} "
             f"and {problem}" + (f":\n{said}" if said else ""))
    reason = "not checked: the handler's process gave no result (see the error)"
    return TaskResult(all_checks(task, Check.skipped(reason)), error)


def _problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "no result"
    if not isinstance(data.get("checks"), list) or not isinstance(data.get("updates"), dict):
        return "a result without its checks or updates"
    if not all(isinstance(data.get(key), (str, type(None))) for key in ("error", "log")):
        return "a result whose error or log is not text"
    artifacts = data.get("artifacts", [])
    if not (isinstance(artifacts, list) and all(isinstance(a, str) for a in artifacts)):
        return "a result whose artifacts are not a list of paths"
    if incident_data.problem(data.get("incidents", [])):
        return f"a result whose {incident_data.problem(data.get('incidents', []))}"
    seconds = data.get("window_seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0):
        return "a result whose window is not a number of seconds > 0"
    for check in data["checks"]:
        if not (isinstance(check, dict) and isinstance(check.get("criterion"), str) and check.get("status") in STATUSES
                and isinstance(check.get("evidence"), str) and isinstance(check.get("metrics"), dict)
                and isinstance(check.get("kind", ""), str)):
            return f"a malformed check ({str(check)[:200]})"
    return None


def _plain(value: Any) -> Any:
    """The read-only views of the state (document.read_only) as plain JSON."""
    if isinstance(value, Mapping):
        return dict(value)
    return list(value)


def main() -> int:
    request = pickle.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    task: Task = request["task"]
    ctx = TaskContext(task, Path(request["root"]), Path(request["workdir"]), request["attempt"], dict(os.environ),
                      request["state"], lambda line: print(line, flush=True),
                      scheduled_windows=request.get("scheduled_windows", False))
    result = run_registered(Registry({task.id: request["ref"]}), ctx, evaluation=request.get("evaluation", False))
    answer = {"checks": result.checks, "error": result.error, "updates": dict(result.updates), "log": result.log,
              "artifacts": list(result.artifacts), "window_seconds": result.window_seconds,
              "incidents": incident_data.encode(result.incidents)}
    try:
        text = json.dumps(answer)
    except (TypeError, ValueError) as exc:
        reason = "not checked: the handler's result is not JSON (see the error)"
        text = json.dumps({"checks": all_checks(task, Check.skipped(reason)),
                           "error": f"the result of Task {task.id}'s handler cannot be recorded: {exc}",
                           "updates": {}, "log": result.log})
    Path(request["result"]).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
