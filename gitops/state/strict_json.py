"""Is a document strict JSON that `json.dumps` can write back, and shallow enough to handle?

JSON Schema validates JSON values; it has no words for what Python's json module lets
through but cannot (or must not) write back: NaN and Infinity, unpaired surrogates, non-string
keys, Python objects. This check runs before the schema, and is also what keeps hostile,
deeply nested input away from Python's recursion limit.
"""
from __future__ import annotations

import math

from gitops.state.problem import Problem, child

# Deeper documents are rejected: nothing the engine writes comes close, and it keeps
# deepcopy/json.dumps (and the schema validator's error messages, which repr the value)
# clear of Python's recursion limit.
MAX_DEPTH = 64


def find_unwritable(data: object) -> Problem | None:
    """The first value that cannot be written as strict JSON (NaN, a set, ...), or None."""
    # Iterative, so that a deeply nested document cannot exhaust Python's stack.
    stack: list[tuple[object, str, int]] = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        problem = _not_json(value, where, depth)
        if problem:
            return problem
        if isinstance(value, dict):
            stack.extend((v, child(where, k), depth + 1) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((v, child(where, i), depth + 1) for i, v in reversed(list(enumerate(value))))
    return None


def _not_json(value: object, where: str, depth: int) -> Problem | None:
    if depth > MAX_DEPTH:
        return Problem(where, f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, float) and not math.isfinite(value):
        return Problem(where, f"{value} is not a JSON number")
    if isinstance(value, str) and not _is_utf8(value):
        return Problem(where, "contains an unpaired surrogate escape (\\ud800-\\udfff)")
    if isinstance(value, dict):
        bad_key = next((k for k in value if not isinstance(k, str) or not _is_utf8(k)), None)
        if bad_key is not None:
            return Problem(where, f"key {bad_key!r} is not a valid JSON object key")
    elif not isinstance(value, (str, int, float, list, type(None))):
        return Problem(where, f"a Python {type(value).__name__} is not a JSON value")
    return None


def _is_utf8(text: str) -> bool:
    if text.isascii():  # most strings: no surrogates possible, and no bytes copy to build
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
