"""state.json on disk: validated reads, atomic writes and locked updates.

The state is a plain JSON dict checked against `gitops.state.schema`. Writes go through
`update()`, which holds a file lock for the whole read-modify-write so concurrent local
processes never lose an update; on disk a file is replaced atomically, so lock-free readers
(`read()`) always see a complete document.
"""
from __future__ import annotations

import json
import marshal
import os
import re
import stat
import tempfile
import time
from bisect import bisect_left
from contextlib import suppress
from itertools import compress
from json.encoder import encode_basestring
from operator import is_, not_
from pathlib import Path
from typing import Any, Callable, Mapping

from gitops.errors import StateError
from gitops.safe_files import MIB, NotRegular, lock_refusal, read_regular
from gitops.state.document import derive
from gitops.state.frozen import FrozenDict, freeze, is_frozen
from gitops.state.problem import Problem
from gitops.state.schema import find_problem

# A state grows by a record per task attempt (~2 KB); 64 MiB is far beyond any pipeline, and
# /dev/zero given as --state would otherwise fill memory.
STATE_LIMIT = 64 * MIB
# A temp file this old is left by a killed write: a live write takes milliseconds.
STALE_TEMP_SECONDS = 600.0

# --- validation -------------------------------------------------------------------------


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


# --- the initial state ------------------------------------------------------------------


# --- reading ----------------------------------------------------------------------------


def dumps(state: dict) -> str:
    """The canonical text of a state: keys sorted, 2-space indent, trailing newline.

    Byte for byte `json.dumps(state, sort_keys=True, indent=2, ensure_ascii=False)`, but the
    parts that grow with the task list are not re-encoded by json's pure-Python indenting
    encoder on every write (which made a transition cost grow with the list): each task
    record's text is kept between writes, and lists of strings (`completed_tasks`) are
    encoded string by string in C.
    """
    return _dumps(state)[0]


def _dumps(state: dict) -> tuple[str, list[str], list[str]]:
    """`dumps`, and the task ids in order with their entries' texts when written one by one."""
    tasks = state.get("tasks")
    keys = _task_ids(tasks) if isinstance(tasks, dict) and tasks else None
    if keys is None:
        return _pretty(state) + "\n", [], []
    lists = {key: text for key, value in state.items()
             if isinstance(value, list) and (text := _string_list_text(value)) is not None}
    markers = {key: f"\x00{key}\x00" for key in [*lists, "tasks"]}
    quoted = {key: json.dumps(marker, ensure_ascii=False) for key, marker in markers.items()}
    head = _pretty({**state, **markers})
    if any(head.count(q) != 1 for q in quoted.values()):  # a marker is in someone's text
        return _pretty(state) + "\n", [], []
    before, after = head.split(quoted["tasks"])
    if lists:  # one pass each: a text put in is never searched for the other markers
        texts_of = {quoted[key]: text for key, text in lists.items()}
        pattern = re.compile("|".join(map(re.escape, texts_of)))
        before, after = (pattern.sub(lambda found: texts_of[found[0]], part) for part in (before, after))
    texts = _task_entries(tasks, keys)
    # One join: the entries are most of the text, and each copy of it costs with the list.
    return "".join([before, "{\n", ",\n".join(texts), "\n  }", after, "\n"]), keys, texts


def _task_ids(tasks: dict) -> list[str] | None:
    """The task ids sorted, or None when one is not text (json's own encoder then says what)."""
    order = list(tasks)
    last = _LAST_TASKS
    if last is not None and last[3] == order:  # the ids of the last write, in the same order
        return last[0]
    if not set(map(type, order)) <= {str}:
        return None
    return sorted(order)


def _task_entries(tasks: dict, keys: list[str]) -> list[str]:
    """The entries' texts of the task ids `keys`, at C speed for the records not changed.

    The records at the same places as in the last write are found by identity in one C-level
    pass (`map(is_, ...)`); only the others go through `_entry_text`. Identity is enough for
    a frozen record only: the last write keeps a plain record's place as `_PLAIN`, never equal.
    """
    global _LAST_TASKS
    records = list(map(tasks.__getitem__, keys))
    last = _LAST_TASKS
    if last is not None and last[0] == keys:
        kept, texts = list(last[1]), list(last[2])
        changed = list(compress(range(len(keys)), map(not_, map(is_, records, kept))))
    else:
        kept, texts = [_PLAIN] * len(keys), [""] * len(keys)
        changed = range(len(keys))
    for index in changed:
        record = records[index]
        texts[index] = _entry_text(keys[index], record)
        kept[index] = record if is_frozen(record) else _PLAIN
    _LAST_TASKS = (keys, kept, texts, list(tasks))
    return texts


# The last `tasks` written: its ids sorted, each frozen record (or _PLAIN) and each entry's text,
# and its ids in the order the dict held them.
_LAST_TASKS: tuple[list[str], list[object], list[str], list[str]] | None = None
_PLAIN = object()


def _pretty(value: object) -> str:
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)


def _string_list_text(items: list) -> str | None:
    """A top-level list of strings as `_pretty` indents it, or None for any other list."""
    if not items:
        return None
    try:
        return "[\n    " + ",\n    ".join(map(encode_basestring, items)) + "\n  ]"
    except TypeError:  # an item that is not a string: json's own encoder
        return None


def _entry_text(task_id: str, record: object) -> str:
    """`    "1.1": {...}`: a task's line in `tasks`, kept per task id while its record is unchanged.

    A frozen record (one this process read or wrote: gitops.state.frozen) cannot have changed
    since its text was kept, so the very same object has the very same text. Any other record is
    keyed by marshal's bytes, not by its identity: a caller may edit its own record in place
    between two writes (the file must follow), and a stale record would be lost work.
    """
    kept = _ENTRY_TEXT.get(task_id)
    if kept is not None and kept[0] is record and is_frozen(record):
        return kept[1]
    if is_frozen(record):
        text = f"    {json.dumps(task_id, ensure_ascii=False)}: " + _pretty(record).replace("\n", "\n    ")
        _keep(task_id, record, text)
        return text
    try:
        key = marshal.dumps(record)
    except ValueError:  # not marshallable, hence not JSON either: json.dumps says what is wrong
        return f"    {json.dumps(task_id, ensure_ascii=False)}: " + _pretty(record).replace("\n", "\n    ")
    if kept is not None and kept[0] == key:
        return kept[1]
    text = f"    {json.dumps(task_id, ensure_ascii=False)}: {_record_text(record, key)}"
    _keep(task_id, key, text)
    return text


def _keep(task_id: str, key: object, text: str) -> None:
    if len(_ENTRY_TEXT) > 100_000:  # bounded: a long session must not grow without end
        _ENTRY_TEXT.clear()
    _ENTRY_TEXT[task_id] = (key, text)


# task id -> (its frozen record, or marshal's bytes of a plain one; its line): the same record
# is written on every transition of a run, and only one or two records change each time.
_ENTRY_TEXT: dict[str, tuple[object, str]] = {}


# marshal's bytes of a task record -> its text at the depth records sit in. marshal is the key
# because it is ~10x faster than even the C JSON encoder, and exact: equal bytes load as equal
# values (True is not 1, 1.0 is not 1), so equal bytes always have the same JSON text. Equal
# records may marshal differently (key order, shared strings): that is a miss, never a wrong hit.
_RECORD_TEXT: dict[bytes, str] = {}


def _record_text(record: object, key: bytes) -> str:
    text = _RECORD_TEXT.get(key)
    if text is None:
        if len(_RECORD_TEXT) > 100_000:  # bounded: a long session must not grow without end
            _RECORD_TEXT.clear()
        text = _RECORD_TEXT[key] = _pretty(record).replace("\n", "\n    ")
    return text


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


def load(path: Path) -> dict | None:
    """The validated state in `path`, or None when the file does not exist; never writes."""
    name = str(path)
    try:
        raw = read_regular(Path(path), STATE_LIMIT)
    except FileNotFoundError:
        return None
    except NotRegular as error:
        raise StateError(f"{name}: {error.what}; the state must be a regular file. Pass --state with the "
                         "path of state.json (or a new path to start afresh).") from None
    except OSError as error:
        raise StateError(f"{name}: cannot read the file ({error.strerror}). Check that it is a readable file.") from None
    return derive(_load_known(path, raw))


def _load_known(path: Path, raw: bytes) -> dict:
    """The valid state `raw` holds, shared with the cache below: callers change a derived copy."""
    key = _key(path)
    known = _known.get(key)
    if known is not None and known[0] == raw:
        return known[1]  # the very bytes this process checked or wrote: nothing to parse
    name = str(path)
    state = validate(_parse(_decode(raw, name), name), name, known[1] if known else None)
    state = _with_frozen_records(state)[0]
    _known[key] = (raw, state)
    return state


def _with_frozen_records(state: dict) -> tuple[dict, list[str]]:
    """A derived `state` whose task and gate records are frozen, and the tasks frozen anew.

    A record already frozen is kept as it is (the same object: its kept text stays valid); only
    the records a change made are copied, so this costs what the change touched.
    """
    frozen = derive(state)
    fresh: list[str] = []
    for key in ("tasks", "gates"):
        records = frozen.get(key)
        if not isinstance(records, dict):
            continue
        # The exact type, inline: a call of is_frozen per record would cost what this saves.
        thawed = [name for name, record in records.items() if type(record) is not FrozenDict]
        for name in thawed:
            records[name] = freeze(records[name])
        if key == "tasks":
            fresh = thawed
    return frozen, fresh


# The bytes of each state file this process last read or wrote valid, and the state they hold.
# A state is read and written several times per transition; a file that still holds those bytes
# is neither parsed nor checked again, and a changed one is checked only where it differs (see
# schema._GROWING): a transition's cost does not grow with the task list. The states here are
# never edited: readers get `derive`d copies (document.derive says what they may change).
_known: dict[str, tuple[bytes, dict]] = {}


def _key(path: Path) -> str:
    return os.path.realpath(path)


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


def save(path: Path, state: dict, known_valid: Mapping[str, Any] | None = None) -> bool:
    """Validate and write `state` atomically, only if it differs from the file; True if written.

    `known_valid`: the valid state this one was changed from (only what differs is checked again).
    """
    return _save(path, state, known_valid, None)


def _save(path: Path, state: dict, known_valid: Mapping[str, Any] | None, on_disk: bytes | None) -> bool:
    """`save`; `on_disk`: the file's bytes, read under the lock that is still held (None: read them)."""
    path = Path(path)
    problem = find_problem(state, known_valid)
    if problem:
        raise StateError(
            f"{path}: refusing to write an invalid state: {problem.describe()}. "
            "This is a bug in gitops or a handler; the file was not changed."
        )
    text, keys, texts = _dumps(state)
    data = text.encode("utf-8")
    # The caller keeps `state`, and its later changes stay its own: the cache holds frozen copies
    # of the records it made, and their entries' texts (written just now) go with them.
    frozen, fresh = _with_frozen_records(state)
    for task_id in fresh:
        at = bisect_left(keys, task_id)
        if at < len(keys) and keys[at] == task_id:
            _keep(task_id, frozen["tasks"][task_id], texts[at])
    known = (data, frozen)
    try:
        if (on_disk if on_disk is not None else read_regular(path, STATE_LIMIT)) == data:
            _known[_key(path)] = known
            return False
    except (OSError, NotRegular):
        pass  # missing or unreadable: write it
    _write_atomically(path, data)
    _known[_key(path)] = known
    return True


def update(
    path: Path,
    change: Callable[[dict], dict],
    *,
    create: Callable[[], dict] | None = None,
    lock_timeout: float = 30.0,
) -> dict:
    """Read-modify-write under an exclusive file lock: apply `change` to the newest state."""
    # Imported here: filelock pulls in asyncio (~30 ms), and read-only commands never lock.
    import filelock

    path = Path(path)
    lock = filelock.FileLock(f"{path}.lock", timeout=lock_timeout)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise StateError(
            f"{lock.lock_file}: another gitops process holds the lock on {path} "
            f"(waited {lock_timeout:g} s). Wait for it to finish, then try again."
        ) from None
    except OSError as error:  # a link (filelock opens with O_NOFOLLOW), a folder, no permission
        raise StateError(lock_refusal(Path(lock.lock_file), path, error)) from None
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
        before = on_disk = None  # a new state is checked whole
    else:
        before = current
        on_disk = _known[_key(path)][0]  # the bytes load() just read, under the lock still held
    try:
        # `change` gets a derived copy whose records are shared with the cache and frozen: it
        # replaces them or takes its own (document.own_record); the cache is dropped all the same
        # when the change does not end in a write.
        new = change(derive(current))
        if not isinstance(new, dict):
            raise TypeError(f"the change function must return the new state dict, got {type(new).__name__}")
        remove_stale_temps(path)
        _save(path, new, before, on_disk)
    except BaseException:
        _known.pop(_key(path), None)
        raise
    return new


def remove_stale_temps(path: Path, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete the temp files (`.state.json.*.tmp`) that killed writes left; return them.

    Only old ones: a writer that does not hold the lock (git_store saves its local copy) may
    be between its temp file and the rename right now.
    """
    removed = []
    now = time.time()
    for temp in Path(path).parent.glob(f".{Path(path).name}.*.tmp"):
        try:
            info = os.lstat(temp)
            if stat.S_ISDIR(info.st_mode) or now - info.st_mtime < older_than:
                continue
            os.unlink(temp)  # a link is removed itself, never what it points to
        except OSError:
            continue
        removed.append(temp)
    return removed
