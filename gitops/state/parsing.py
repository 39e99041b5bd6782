"""state.json's bytes to a checked document: decoded, parsed (no duplicate keys), validated, and
the messages that name the file, the line and the fix."""
from __future__ import annotations

import json
from typing import Any, Mapping

from gitops.errors import StateError
from gitops.state.problem import Problem
from gitops.state.schema import find_problem


def _restore_hint(path: str) -> str:
    return f"restore the file from git (git checkout -- {path})"


def _file_message(path: str, problem: Problem) -> str:
    if problem.kind == "newer":
        return f"{path}: {problem.describe()}. Upgrade gitops (pip install -U gitops-tasklists)."
    if problem.kind == "missing":
        return f"{path}: {problem.describe()}. Add it or {_restore_hint(path)}."
    return f"{path}: {problem.describe()}. Fix the value or {_restore_hint(path)}."


def validate(data: object, path: str, known_valid: Mapping[str, Any] | None = None) -> dict:
    """Check a state document against schema 1 and return it; StateError names file and key."""
    problem = find_problem(data, known_valid)
    if problem:
        raise StateError(_file_message(path, problem))
    return data  # type: ignore[return-value]


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    data: dict = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateKey(key)
        data[key] = value
    return data


def decode(raw: bytes, path: str) -> str:
    try:
        # utf-8-sig: tolerate the byte-order mark some editors add; save() drops it.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise StateError(
            f"{path}: not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}). "
            f"Restore the file from git (git checkout -- {path})."
        ) from None
    if not text.strip():
        raise StateError(
            f"{path} is empty. Restore it from git (git checkout -- {path}), "
            "or delete it to start the pipeline from the beginning."
        )
    return text


def _conflict_line(text: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(("<<<<<<< ", ">>>>>>> ")) or line == "=======":
            return number
    return None


def parse(text: str, path: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as error:
        # Conflict markers are never valid JSON (a line of them is outside any string), so
        # they are looked for only here, off the path of every good read.
        conflict = _conflict_line(text)
        if conflict:
            raise StateError(
                f"{path}:{conflict}: git merge conflict markers. Resolve the conflict, "
                f"or {_restore_hint(path)}."
            ) from None
        raise StateError(
            f"{path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}. "
            f"Fix the syntax or {_restore_hint(path)}."
        ) from None
    except _DuplicateKey as error:
        problem = f'duplicate key "{error}" in one JSON object'
    except (ValueError, RecursionError) as error:  # an integer too long to convert, deep nesting
        problem = f"not valid JSON ({error})"
    raise StateError(f"{path}: {problem}. Fix it or {_restore_hint(path)}.")
