"""History commits: successive versions of a work file that belong on the phase branch as commits of their own.

A task's work reaches the phase branch with its state commit, as the files it left (gitops.run.handover).
Some work is a history, not a result: each rollout step and rollback of deploy/production.yaml is a
commit, so the phase PR explains production (docs/production.md). A handler records each version
here, in order (`record`, into a file of its workdir, so a handler running apart records it too);
the task job hands them over and the recording job commits them one by one before the state commit
(GitStateStore.carry_history). Everything here may have been written by task code: `problem` accepts
exactly what `encode` produces, within bounds, and a version is only ever stored as a file's content.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Sequence

from gitops.errors import BadInput
from gitops.run.paths import safe_path

FILE = "history-commits.jsonl"  # in the task's workdir (.gitops/work/<id>/)
# Bounds on what a task job can make the recording job commit: a rollout is about ten versions of a
# small file; these leave room for many times that and still keep one hand-over small.
MAX_COMMITS = 100
MAX_BYTES = 256 * 1024  # one version's content, UTF-8
MAX_TOTAL = 4 * 1024 * 1024  # all versions together
MAX_MESSAGE = 1000
# Beside safe_path's .git and .gitops: workflows (.github) are never task work, and the state file is
# the store's own (GitStateStore's default path on the phase branch).
RESERVED_DIRS = frozenset({".github"})
ENGINE_FILES = frozenset({"state.json"})
_KEYS = {"path", "content", "message"}


@dataclass(frozen=True)
class HistoryCommit:
    path: str  # a plain relative path inside the repository
    content: str  # the file's whole new text
    message: str  # the commit's message


def record(workdir: Path, path: str, content: str, message: str) -> None:
    """Append one version of `path` to the task's history (workdir/FILE); BadInput when it could never be committed."""
    entry = {"path": path, "content": content, "message": message}
    problem = _entry_problem(entry)
    if problem:
        raise BadInput(f"history commit {len(recorded(workdir)) + 1} of {workdir / FILE}: {problem}")
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / FILE).open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry, sort_keys=True) + "\n")


def recorded(workdir: Path) -> tuple[HistoryCommit, ...]:
    """The versions recorded in `workdir`, in order; BadInput naming the line of a malformed one."""
    file = workdir / FILE
    if not file.exists():
        return ()
    entries = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        try:
            entries.append(json.loads(line))
        except ValueError as exc:
            raise BadInput(f"{file}:{number}: not a JSON object ({exc}); record history with "
                           "gitops.run.history_commits.record") from None
    problem = problems(entries)
    if problem:
        raise BadInput(f"{file}: {problem}")
    return decode(entries)


def clear(workdir: Path) -> None:
    """Forget an earlier attempt's history: each attempt hands over its own."""
    (workdir / FILE).unlink(missing_ok=True)


def encode(commits: Sequence[HistoryCommit]) -> list[dict[str, str]]:
    return [{"path": c.path, "content": c.content, "message": c.message} for c in commits]


def decode(entries: Sequence[dict[str, str]]) -> tuple[HistoryCommit, ...]:
    return tuple(HistoryCommit(e["path"], e["content"], e["message"]) for e in entries)


def problems(entries: Any) -> str | None:
    """What is wrong with a hand-over's history (a list of `encode`'s entries), None when nothing is."""
    if not isinstance(entries, list):
        return "history is not a list"
    if len(entries) > MAX_COMMITS:
        return f"history holds {len(entries)} commits, more than {MAX_COMMITS}"
    total = 0
    for number, entry in enumerate(entries, 1):
        problem = _entry_problem(entry)
        if problem:
            return f"history commit {number}: {problem}"
        total += len(entry["content"].encode("utf-8"))
    if total > MAX_TOTAL:
        return f"history holds {total} bytes of content, more than {MAX_TOTAL}"
    return None


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict) or set(entry) != _KEYS:
        return f"not an object with exactly the keys {', '.join(sorted(_KEYS))}"
    path, content, message = entry["path"], entry["content"], entry["message"]
    if not isinstance(path, str) or not safe_path(path) or PurePosixPath(path).parts[0].lower() in RESERVED_DIRS:
        return (f"the path {str(path)[:200]!r} is not a plain relative path inside the repository "
                "(outside .git, .gitops and .github)")
    if path in ENGINE_FILES:
        return f"the path {path!r} is the engine's state file, never a task's history"
    if not _text(content):
        return f"the content of {path!r} is not text (UTF-8 without NUL characters)"
    if len(content.encode("utf-8")) > MAX_BYTES:
        return f"the content of {path!r} is larger than {MAX_BYTES} bytes"
    if not _text(message) or not message.strip() or len(message) > MAX_MESSAGE:
        return f"the message of {path!r} is not text of 1 to {MAX_MESSAGE} characters"
    return None


def _text(value: Any) -> bool:
    """A string git can store as it is: UTF-8 (JSON may carry lone surrogates) without NUL."""
    if not isinstance(value, str) or "\0" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
