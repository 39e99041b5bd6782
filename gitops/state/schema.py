"""The state.json schema (version 1) and its checker: the first problem in a document, and where.

The schema is declarative (Scalar, Nullable, ListOf, MapOf, Record); `find_problem` walks a
document against `STATE` after checking that it is strict JSON that `json.dumps` can write.
"""
from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Union

from gitops.model import CheckStatus, GateStatus, TaskStatus

SCHEMA_VERSION = 1

# Deeper documents are rejected: nothing the engine writes comes close, and it keeps
# deepcopy/json.dumps clear of Python's recursion limit.
MAX_DEPTH = 64


# --- schema -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scalar:
    """A JSON scalar (or free-form container) of the given Python types."""

    types: tuple[type, ...]
    name: str  # "a string", "an integer >= 0": used in "expected ..." messages
    minimum: int | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Nullable:
    inner: Spec


@dataclass(frozen=True)
class ListOf:
    item: Spec


@dataclass(frozen=True)
class MapOf:
    """A JSON object with arbitrary string keys, every value matching `value`."""

    value: Spec


@dataclass(frozen=True)
class Record:
    """A JSON object with known keys; unknown keys are allowed and kept (forward compatibility)."""

    required: Mapping[str, Spec]
    optional: Mapping[str, Spec] = field(default_factory=dict)


Spec = Union[Scalar, Nullable, ListOf, MapOf, Record]


def _enum(values: type[enum.Enum]) -> Scalar:
    return Scalar((str,), "a string", choices=tuple(member.value for member in values))


STRING = Scalar((str,), "a string")
COUNT = Scalar((int,), "an integer >= 0", minimum=0)
BOOLEAN = Scalar((bool,), "true or false")
NUMBER = Scalar((int, float), "a number")
OBJECT = Scalar((dict,), "an object")  # free-form: any JSON object
LIST = Scalar((list,), "a list")  # free-form: any JSON list
OPT_STRING = Nullable(STRING)

CHECK = Record(
    required={
        "criterion": STRING,
        "status": _enum(CheckStatus),
        "evidence": STRING,
        "metrics": MapOf(NUMBER),
    },
    optional={"approved_by": OPT_STRING},
)

TASK = Record(
    required={
        "status": _enum(TaskStatus),
        "attempts": COUNT,
        "started_at": OPT_STRING,
        "finished_at": OPT_STRING,
        "commit": OPT_STRING,
        "run_url": OPT_STRING,
        "mlflow_run_id": OPT_STRING,
        "error": OPT_STRING,
        "checks": ListOf(CHECK),
    }
)

GATE = Record(required={"status": _enum(GateStatus), "approved_by": OPT_STRING, "at": OPT_STRING})

HOTFIX = Record(
    required={
        "id": STRING,
        "task": STRING,
        "attempt": COUNT,
        "status": Scalar((str,), "a string", choices=("open", "resolved")),
        "issue": OPT_STRING,
        "error": STRING,
    },
    optional={"opened_at": OPT_STRING, "resolved_at": OPT_STRING},
)

RESUME = Record(required={"reason": STRING, "at": STRING, "by": STRING})

STATE = Record(
    required={
        "schema_version": Scalar((int,), "an integer >= 1", minimum=1),
        "project": STRING,
        "tasklist": STRING,
        "tasklist_sha256": STRING,
        "current_task": OPT_STRING,
        "current_phase": Nullable(Scalar((int,), "an integer")),
        "completed_tasks": ListOf(STRING),
        "blocked_tasks": ListOf(STRING),
        "total_tasks": COUNT,
        "completed_count": COUNT,
        "consecutive_failures": COUNT,
        "start_time": OPT_STRING,
        "last_updated": OPT_STRING,
        "test_results": OBJECT,
        "performance_metrics": OBJECT,
        "compatibility_issues": LIST,
        "rollback_ready": BOOLEAN,
        "halted": Nullable(Record(required={"reason": STRING, "at": STRING})),
        "paused_by": OPT_STRING,
        "tasks": MapOf(TASK),
        "gates": MapOf(GATE),
        "hotfixes": ListOf(HOTFIX),
        "resumes": ListOf(RESUME),
    }
)


# --- checking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """What is wrong and where: `where` is a key path like `tasks.1.1.checks[0].status`."""

    where: str
    text: str  # "expected a string, got 5"; empty for kind "missing"
    kind: str = "invalid"  # "invalid" | "missing" | "newer" (schema_version from a newer gitops)

    def describe(self) -> str:
        """The problem in words, without the file name or a fix: `key "x" is missing`."""
        if self.kind == "newer":
            return f"schema_version {self.text} is newer than this gitops understands ({SCHEMA_VERSION})"
        if self.kind == "missing":
            return f'key "{self.where}" is missing'
        return f'key "{self.where}": {self.text}' if self.where else self.text


def _child(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _show(value: object) -> str:
    """A value as it appears in JSON, shortened; containers by kind."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = f"a Python {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


def _is_a(value: object, types: tuple[type, ...]) -> bool:
    # JSON booleans are not numbers, although Python's bool is an int.
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


def _types(spec: Scalar | ListOf | MapOf | Record) -> tuple[type, ...]:
    if isinstance(spec, Scalar):
        return spec.types
    return (list,) if isinstance(spec, ListOf) else (dict,)


def _name(spec: Spec) -> str:
    if isinstance(spec, Nullable):
        return _name(spec.inner) + " or null"
    if isinstance(spec, Scalar):
        return spec.name
    return "a list" if isinstance(spec, ListOf) else "an object"


def _check(spec: Spec, value: Any, where: str, expected: str = "") -> Problem | None:
    """The first place where `value` does not match `spec`, or None."""
    expected = expected or _name(spec)
    if isinstance(spec, Nullable):
        return None if value is None else _check(spec.inner, value, where, expected)
    if not _is_a(value, _types(spec)):
        return Problem(where, f"expected {expected}, got {_show(value)}")
    if isinstance(spec, Scalar):
        return _check_scalar(spec, value, where, expected)
    if isinstance(spec, ListOf):
        return _first(spec.item, ((f"{where}[{i}]", item) for i, item in enumerate(value)))
    if isinstance(spec, MapOf):
        return _first(spec.value, ((_child(where, key), item) for key, item in value.items()))
    return _check_record(spec, value, where)


def _first(spec: Spec, children: Iterable[tuple[str, object]]) -> Problem | None:
    return next(filter(None, (_check(spec, item, where) for where, item in children)), None)


def _check_scalar(spec: Scalar, value: Any, where: str, expected: str) -> Problem | None:
    if spec.choices and value not in spec.choices:
        return Problem(where, f"{_show(value)} is not one of {', '.join(spec.choices)}")
    if spec.minimum is not None and value < spec.minimum:
        return Problem(where, f"expected {expected}, got {_show(value)}")
    return None


def _check_record(spec: Record, value: dict, where: str) -> Problem | None:
    missing = next((key for key in spec.required if key not in value), None)
    if missing is not None:
        return Problem(_child(where, missing), "", kind="missing")
    present = {**spec.required, **{k: s for k, s in spec.optional.items() if k in value}}
    checks = (_check(s, value[key], _child(where, key)) for key, s in present.items())
    return next(filter(None, checks), None)


def _json_problem(data: object) -> Problem | None:
    """The first value that cannot be written as strict JSON (NaN, a set, ...), or None."""
    # Iterative, so that a deeply nested document cannot exhaust Python's stack.
    stack: list[tuple[object, str, int]] = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        problem = _not_json(value, where, depth)
        if problem:
            return problem
        if isinstance(value, dict):
            stack.extend((v, _child(where, k), depth + 1) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in reversed(list(enumerate(value))))
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
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def find_problem(data: object) -> Problem | None:
    """The first schema problem in a state document, or None when it is valid."""
    if not isinstance(data, dict):
        return Problem("", f"expected a JSON object at the top level, got {_show(data)}")
    version = data.get("schema_version")
    if _is_a(version, (int,)) and version > SCHEMA_VERSION:
        return Problem("schema_version", f"{version}", kind="newer")
    return _json_problem(data) or _check(STATE, data, "")
