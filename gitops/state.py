"""state.json: the observed facts of a pipeline run (schema, validation, atomic locked writes).

The state is a plain JSON dict. Writes go through `update()`, which holds a file lock for the
whole read-modify-write so concurrent local processes never lose an update; on disk a file
is replaced atomically, so lock-free readers (`read()`) always see a complete document.
"""
from __future__ import annotations

import copy
import json
import math
import os
import tempfile
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Union

import filelock

from gitops.errors import StateError, TaskListError
from gitops.model import CheckStatus, GateStatus, TaskList, TaskStatus

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


def _enum(values: type) -> Scalar:
    names = tuple(member.value for member in values)  # type: ignore[attr-defined]
    return Scalar((str,), "a string", choices=names)


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


def _describe(problem: Problem) -> str:
    if problem.kind == "newer":
        return f"schema_version {problem.text} is newer than this gitops understands ({SCHEMA_VERSION})"
    if problem.kind == "missing":
        return f'key "{problem.where}" is missing'
    return f'key "{problem.where}": {problem.text}' if problem.where else problem.text


def _restore_hint(path: str) -> str:
    return f"restore the file from git (git checkout -- {path})"


def _file_message(path: str, problem: Problem) -> str:
    if problem.kind == "newer":
        return f"{path}: {_describe(problem)}. Upgrade gitops (pip install -U gitops-tasklists)."
    if problem.kind == "missing":
        return f"{path}: {_describe(problem)}. Add it or {_restore_hint(path)}."
    return f"{path}: {_describe(problem)}. Fix the value or {_restore_hint(path)}."


def validate(data: object, path: str) -> dict:
    """Check a state document against schema 1 and return it; StateError names file and key."""
    problem = find_problem(data)
    if problem:
        raise StateError(_file_message(path, problem))
    return data  # type: ignore[return-value]


# --- the initial state ------------------------------------------------------------------


def _seed_defaults(tasklist: TaskList) -> dict:
    """The seed's "Current State" keys, as an empty block would set them."""
    return {
        "project": Path(tasklist.path).stem,
        "current_task": None,
        "completed_tasks": [],
        "blocked_tasks": [],
        "total_tasks": 0,
        "completed_count": 0,
        "start_time": None,
        "last_updated": None,
        "test_results": {"passed": 0, "failed": 0},
        "performance_metrics": {},
        "compatibility_issues": [],
        "rollback_ready": False,
    }


def _new_task() -> dict:
    return {
        "status": TaskStatus.PENDING.value,
        "attempts": 0,
        "started_at": None,
        "finished_at": None,
        "commit": None,
        "run_url": None,
        "mlflow_run_id": None,
        "error": None,
        "checks": [],
    }


def _plain(value: Any) -> Any:
    """A fresh, mutable copy of a parsed JSON value (the task list may hold frozen mappings)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def new_state(tasklist: TaskList, now: str) -> dict:
    """The state before anything ran: the task list's Current State block plus engine keys."""
    state = {**_seed_defaults(tasklist), **_plain(tasklist.initial_state or {})}
    state.update(
        schema_version=SCHEMA_VERSION,
        tasklist=tasklist.path,
        tasklist_sha256=tasklist.sha256,
        current_phase=tasklist.phases[0].number if tasklist.phases else None,
        total_tasks=len(tasklist.tasks),
        consecutive_failures=0,
        last_updated=now,
        halted=None,
        paused_by=None,
        tasks={task_id: _new_task() for task_id in tasklist.tasks},
        gates={},
        hotfixes=[],
        resumes=[],
    )
    problem = find_problem(state)
    if problem:
        line = tasklist.initial_state_line or 1
        raise TaskListError(
            f"{tasklist.path}:{line}: Current State block: {_describe(problem)}. "
            "Fix the value in the task list."
        )
    return state


# --- reading ----------------------------------------------------------------------------


def dumps(state: dict) -> str:
    """The canonical text of a state: keys sorted, 2-space indent, trailing newline."""
    return json.dumps(state, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    data: dict = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateKey(key)
        data[key] = value
    return data


def _decode(raw: bytes, path: str) -> str:
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


def _parse(text: str, path: str) -> object:
    conflict = _conflict_line(text)
    if conflict:
        raise StateError(
            f"{path}:{conflict}: git merge conflict markers. Resolve the conflict, "
            f"or {_restore_hint(path)}."
        )
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as error:
        raise StateError(
            f"{path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}. "
            f"Fix the syntax or {_restore_hint(path)}."
        ) from None
    except _DuplicateKey as error:
        problem = f'duplicate key "{error}" in one JSON object'
    except (ValueError, RecursionError) as error:  # an integer too long to convert, deep nesting
        problem = f"not valid JSON ({error})"
    raise StateError(f"{path}: {problem}. Fix it or {_restore_hint(path)}.")


def load(path: Path) -> dict | None:
    """The validated state in `path`, or None when the file does not exist; never writes."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StateError(f"{name}: cannot read the file ({error.strerror}). Check that it is a readable file.") from None
    return validate(_parse(_decode(raw, name), name), name)


def read(path: Path) -> dict | None:
    """The state without taking the lock (for status and plan); writes are atomic, so it is whole."""
    return load(path)


# --- writing ----------------------------------------------------------------------------


def _umask() -> int:
    # os.umask() can only be read by setting it, which races with other threads; Linux shows it.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _mode_for(path: Path) -> int:
    """Keep an existing file's permissions; mkstemp alone would make every state.json 0600."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _write_atomically(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, _mode_for(path))
        os.replace(temp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable after a crash (POSIX only; Windows cannot open directories).
    if os.name != "posix":
        return
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save(path: Path, state: dict) -> bool:
    """Validate and write `state` atomically, only if it differs from the file; True if written."""
    path = Path(path)
    problem = find_problem(state)
    if problem:
        raise StateError(
            f"{path}: refusing to write an invalid state: {_describe(problem)}. "
            "This is a bug in gitops or a handler; the file was not changed."
        )
    data = dumps(state).encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass  # missing or unreadable: write it
    _write_atomically(path, data)
    return True


def update(
    path: Path,
    change: Callable[[dict], dict],
    *,
    create: Callable[[], dict] | None = None,
    lock_timeout: float = 30.0,
) -> dict:
    """Read-modify-write under an exclusive file lock: apply `change` to the newest state."""
    path = Path(path)
    lock = filelock.FileLock(f"{path}.lock", timeout=lock_timeout)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise StateError(
            f"{lock.lock_file}: another gitops process holds the lock on {path} "
            f"(waited {lock_timeout:g} s). Wait for it to finish, then try again."
        ) from None
    try:
        # Do not call update() from inside `change`: the lock is not re-entrant across instances.
        return _apply(path, change, create)
    finally:
        lock.release()


def _apply(path: Path, change: Callable[[dict], dict], create: Callable[[], dict] | None) -> dict:
    current = load(path)  # a corrupt file raises here, before anything is written
    if current is None:
        if create is None:
            raise StateError(f"{path} does not exist. Run `gitops run` first to create it.")
        current = create()
    new = change(copy.deepcopy(current))
    if not isinstance(new, dict):
        raise TypeError(f"the change function must return the new state dict, got {type(new).__name__}")
    save(path, new)
    return new
