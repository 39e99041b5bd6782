"""state.json's journal: the changes since the file was last written whole, one line each.

Rewriting and fsyncing the whole state.json on every transition made a task's cost grow with
the task list (700 KB at 1,000 tasks, twice per task). A transition instead appends what it
changed to `state.json.journal` beside it (SQLite's WAL, Redis' AOF): the task and gate records
it replaced, the other keys it set, the end of a list it extended. state.json is written whole
again when the journal has grown as large as it (so each write is paid for by as many bytes of
appends: a constant cost per transition) and when a command ends (gitops.state.file.settle), so
state.json is whole whenever no gitops process is writing it. Whoever reads state through
gitops.state.file folds the journal in; a journal left by a killed process is folded in by the
next reader and written away by the next writer.

Every line is an assignment (this record is now X, this list from index i on is Y), never an
increment: folding the same lines twice gives the same state. So a write that was interrupted
after state.json was replaced and before the journal was removed loses nothing and doubles
nothing (`settled`). The first line names the state.json the journal continues (its SHA-256): a
journal is never folded into a state.json someone replaced (git checkout, an editor).
"""
from __future__ import annotations

import hashlib
import json
import marshal
import os
from dataclasses import dataclass
from itertools import compress
from operator import is_not
from pathlib import Path
from typing import Any, Iterable, Mapping

from gitops.errors import StateError
from gitops.safe_files import NotRegular, read_regular
from gitops.state.records import changed_since

FORMAT = 1
# The keys whose values are records by name: a change writes only the records it replaced.
_RECORDS = ("tasks", "gates")
_DELTA_KEYS = frozenset({"set", "unset", "ends", *_RECORDS})


def path_for(state_path: Path) -> Path:
    return Path(state_path).with_name(Path(state_path).name + ".journal")


def digest(state_bytes: bytes) -> str:
    return hashlib.sha256(state_bytes).hexdigest()


def header(state_bytes: bytes) -> bytes:
    """The journal's first line: the state.json it continues."""
    return line({"gitops_journal": FORMAT, "base": digest(state_bytes)})


def delta(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any] | None:
    """What turns `before` into `after`, or None when they are equal.

    Records are compared by identity first, in one C-level pass (a transition shares every record
    it did not replace: gitops.state.document.derive), then by their JSON text (equal values may
    differ in JSON: True and 1, 1.0 and 1), so the cost is one pass plus the records changed.
    """
    out: dict[str, Any] = {}
    for key in _RECORDS:
        old, new = before.get(key), after.get(key)
        if old is new or not (isinstance(old, dict) and isinstance(new, dict)):
            continue
        named = changed_since(new, old)  # the names set since (gitops.state.records), else compare all
        if named is not None:
            candidates: Iterable[str] = sorted(name for name in named if name in new and new[name] is not old.get(name))
        else:
            names = list(new)
            candidates = compress(names, map(is_not, new.values(), map(old.get, names)))
        changed = {name: new[name] for name in candidates if name not in old or _text(new[name]) != _text(old[name])}
        if named is None or len(new) != len(old):  # a removal is never vouched for: look
            changed.update((name, None) for name in old.keys() - new.keys())
        if changed:
            out[key] = changed
    sets, ends = {}, {}
    for key, value in after.items():
        old = before.get(key, _MISSING)
        if value is old or (key in _RECORDS and isinstance(value, dict) and isinstance(old, dict)):
            continue
        if isinstance(value, list) and isinstance(old, list) and len(old) <= len(value):
            if _text(value[:len(old)]) == _text(old):  # the list kept its beginning: write its end
                if len(value) > len(old):
                    ends[key] = [len(old), value[len(old):]]
                continue
        if old is _MISSING or _text(value) != _text(old):
            sets[key] = value
    unset = [key for key in before if key not in after]
    if sets:
        out["set"] = sets
    if ends:
        out["ends"] = ends
    if unset:
        out["unset"] = unset
    return out or None


def _text(value: Any) -> bytes | str:
    """Equal for two values only when their JSON is. A list of plain values (the ids of completed
    tasks) as marshal's bytes: exact (True is not 1), ~10x faster than json, and with version 2
    free of back-references, so equal lists give equal bytes. Anything else as json's text."""
    if isinstance(value, list):
        try:
            return marshal.dumps(value if type(value) is list else list(value), 2)  # FrozenList: as a list
        except ValueError:  # frozen records in it (hotfixes): json's text
            pass
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


_MISSING = object()


def line(value: Mapping[str, Any]) -> bytes:
    """A change (or the header) as one line: json escapes every newline inside strings."""
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


@dataclass(frozen=True)
class Journal:
    """A journal as read: the state.json it continues, its changes, and the bytes they end at."""

    base: str
    changes: tuple[dict[str, Any], ...]
    whole: int  # bytes up to the end of the last whole line; a torn last line is past it


def parse(raw: bytes, name: str, start: int = 0) -> Journal:
    """The journal in `raw` (from byte `start`, when the header was read before: base is then "").

    A last line without its newline is a write that never returned (the process died in it):
    it is not part of the state, and the next writer cuts it off. Any other bad line is an error
    that names it: the transitions after it would be lost by guessing.
    """
    lines = raw[start:].split(b"\n")
    torn = lines.pop()  # b"" when the journal ends with a newline
    whole = len(raw) - len(torn)  # a journal with no whole line (a torn header) is empty: base ""
    base = ""
    changes = []
    for number, text in enumerate(lines, start=1):
        where = f"{name}:{number}" if start == 0 else f"{name} (at byte {start})"
        try:
            value = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as error:
            raise StateError(_broken(where, name, f"not a JSON line ({error})")) from None
        if start == 0 and number == 1:
            if not (isinstance(value, dict) and value.get("gitops_journal") == FORMAT
                    and isinstance(value.get("base"), str)):
                raise StateError(_broken(where, name, "not a gitops journal's first line"))
            base = value["base"]
            continue
        problem = _delta_problem(value)
        if problem:
            raise StateError(_broken(where, name, problem))
        changes.append(value)
    return Journal(base, tuple(changes), whole)


def _broken(where: str, name: str, problem: str) -> str:
    state = name.removesuffix(".journal")
    return (f"{where}: {problem}. This file holds the changes made since {state} was last written whole; "
            f"restore it from a backup, or move it away to go back to {state} as last written whole "
            f"(the changes in it are then lost).")


def _delta_problem(value: Any) -> str | None:
    if not isinstance(value, dict) or not value or not value.keys() <= _DELTA_KEYS:
        return f"not a change (an object of {', '.join(sorted(_DELTA_KEYS))})"
    for key in _RECORDS:
        records = value.get(key, {})
        if not (isinstance(records, dict) and all(r is None or isinstance(r, dict) for r in records.values())):
            return f"{key} is not an object of records (or null for a removed one)"
    if not isinstance(value.get("set", {}), dict):
        return "set is not an object"
    unset = value.get("unset", [])
    if not (isinstance(unset, list) and all(isinstance(k, str) for k in unset)):
        return "unset is not a list of keys"
    ends = value.get("ends", {})
    if not (isinstance(ends, dict) and all(isinstance(e, list) and len(e) == 2 and type(e[0]) is int and e[0] >= 0
                                           and isinstance(e[1], list) for e in ends.values())):
        return "ends is not an object of [index, items]"
    return None


def fold(state: Mapping[str, Any], changes: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> dict | None:
    """`state` with `changes` applied: a new dict sharing every record no change touched, or None
    when a change does not fit (a list shorter than where its end begins: another state's journal)."""
    out = dict(state)
    copied: set[str] = set()
    for change in changes:
        for key in _RECORDS:
            records = change.get(key)
            if not records:
                continue
            if key not in copied:
                if not isinstance(out.get(key), dict):
                    return None
                out[key] = dict(out[key])
                copied.add(key)
            target = out[key]
            for name, record in records.items():
                if record is None:
                    target.pop(name, None)
                else:
                    target[name] = record
        for key, value in change.get("set", {}).items():
            out[key] = value
            copied.discard(key)  # a whole new value: a later change may edit it as its own
            if key in _RECORDS:
                copied.add(key)  # it came from this journal: nobody else shares it
        for key, (index, items) in change.get("ends", {}).items():
            old = out.get(key)
            if not isinstance(old, list) or len(old) < index:
                return None
            out[key] = old[:index] + items
        for key in change.get("unset", []):
            out.pop(key, None)
    return out


def read(path: Path, limit: int) -> bytes | None:
    """The journal's bytes, or None when there is none."""
    try:
        return read_regular(path, limit)
    except FileNotFoundError:
        return None
    except NotRegular as error:
        raise StateError(f"{path}: {error.what}; the journal must be a regular file. Move it away.") from None
    except OSError as error:
        raise StateError(f"{path}: cannot read the journal ({error.strerror}). Check that it is readable.") from None


def append(path: Path, data: bytes, whole: int | None) -> os.stat_result:
    """Append `data` durably (fdatasync) and return the journal's stat; `whole`: the bytes of whole
    lines before it (a torn line after them is cut off first), None for a new journal."""
    flags = os.O_WRONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    if whole is None:
        fd = os.open(path, flags | os.O_CREAT | os.O_TRUNC, 0o666)
    else:
        fd = os.open(path, flags)
    try:
        if whole is not None and os.fstat(fd).st_size != whole:
            os.ftruncate(fd, whole)
        os.lseek(fd, 0, os.SEEK_END)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        (getattr(os, "fdatasync", None) or os.fsync)(fd)
        return os.fstat(fd)
    finally:
        os.close(fd)


def remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
