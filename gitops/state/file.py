"""state.json on disk: validated reads, atomic writes and locked updates, its journal folded in.

The state is a plain JSON dict checked against `gitops.state.schema` (gitops.state.parsing).
Writes go through `update()`, which holds a file lock for the whole read-modify-write so
concurrent local processes never lose an update; on disk a file is replaced atomically
(gitops.state.atomic_write), so lock-free readers (`load()`) always see a complete document.
Within `journaled()` a run appends its changes instead (gitops.state.journal).
"""
from __future__ import annotations

import os
import stat
import time
from bisect import bisect_left
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import compress, repeat
from operator import is_not
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from gitops.errors import StateError
from gitops.safe_files import MIB, NotRegular, lock_refusal, read_regular
from gitops.state import journal
from gitops.state.atomic_write import fsync_directory, remove_stale_temps, write_atomically
from gitops.state.document import derive
from gitops.state.frozen import FrozenDict, freeze
from gitops.state.parsing import decode, parse, validate
from gitops.state.records import changed_since
from gitops.state.schema import find_problem
from gitops.state.state_text import dumps, dumps_in_parts, keep_entry_text

# A state grows by a record per task attempt (~2 KB); 64 MiB is far beyond any pipeline, and
# /dev/zero given as --state would otherwise fill memory.
STATE_LIMIT = 64 * MIB

# --- reading ----------------------------------------------------------------------------


def load(path: Path) -> dict | None:
    """The validated state in `path` with its journal folded in, or None when the file does not
    exist; never writes."""
    known = _current(Path(path))
    return None if known is None else derive(known.state)


@dataclass
class _Known:
    """What this process last saw of a state file: its bytes and the valid state they hold, the
    journal folded into that (its stat and the bytes of whole lines read), and the result."""

    raw: bytes
    sig: tuple[int, ...] | None  # state.json's stat, or None until it may be trusted (_sig)
    base: dict
    journal: tuple[int, int, int] | None  # the journal's (inode, size, mtime), None: there is none
    lines: list[bytes]  # the journal's bytes folded in (whole lines), as read or appended
    state: dict
    whole: int = -1  # how many bytes `lines` hold (counted when not given)

    def __post_init__(self) -> None:
        if self.whole < 0:
            self.whole = sum(map(len, self.lines))


# The state files this process last read or wrote, by real path. A state is read and written
# several times per transition; files whose stat is what this process saw are neither read nor
# checked again (`_unchanged`), and a changed one is checked only where it differs (see
# schema._GROWING). The states here are never edited: readers get `derive`d copies.
_known: dict[str, _Known] = {}


def _key(path: Path) -> str:
    return os.path.realpath(path)


def _current(path: Path) -> _Known | None:
    """`path`'s state as it is on disk now, from the cache when the files are as this process saw them."""
    key = _key(path)
    known = _known.get(key)
    if known is not None and _unchanged(path, known):
        return known
    # A reader holds no lock: a writer may replace state.json (and start a new journal) while it
    # reads. The stat before and after tells; then it reads again.
    for attempt in range(_READ_ATTEMPTS):
        last = attempt == _READ_ATTEMPTS - 1
        try:
            before = os.stat(path)
        except FileNotFoundError:
            return None
        except OSError:
            before = None  # read_regular says what is wrong
        raw = _read_state(path)
        if raw is None:
            return None
        try:
            found = _folded(path, raw, known)
        except JournalMismatch:
            if last or before is None or _stat_key(before) == _stat_key(os.stat(path)):
                raise
            continue
        if before is not None and _stat_key(before) != _stat_key(os.stat(path)) and not last:
            continue
        found.sig = _sig(before) if before is not None else None
        _known[key] = found
        return found
    raise AssertionError("unreachable")


_READ_ATTEMPTS = 3


def _stat_key(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode)


def _read_state(path: Path) -> bytes | None:
    name = str(path)
    try:
        return read_regular(path, STATE_LIMIT)
    except FileNotFoundError:
        return None
    except NotRegular as error:
        raise StateError(f"{name}: {error.what}; the state must be a regular file. Pass --state with the "
                         "path of state.json (or a new path to start afresh).") from None
    except OSError as error:
        raise StateError(f"{name}: cannot read the file ({error.strerror}). Check that it is a readable file.") from None


def _folded(path: Path, raw: bytes, known: _Known | None) -> _Known:
    """The state `raw` holds (parsed and checked unless this process knows those bytes), journal folded in."""
    name = str(path)
    if known is not None and known.raw == raw:
        base = known.base  # the very bytes this process checked or wrote: nothing to parse
    else:
        previous = known.base if known else None
        base = _with_frozen_records(validate(parse(decode(raw, name), name), name, previous))[0]
    return _with_journal(path, raw, base, known if known is not None and known.base is base else None)


class JournalMismatch(StateError):
    """The journal continues another state.json than the one read."""


def _with_journal(path: Path, raw: bytes, base: dict, known: _Known | None) -> _Known:
    """The state `raw` (valid: `base`) holds with its journal folded in; `known`: what this process
    folded from the same state.json before, so that only the lines appended since are read."""
    journal_path = journal.path_for(path)
    name = str(journal_path)
    try:  # before reading: a line appended meanwhile makes the next look read again (_unchanged)
        info = os.stat(journal_path)
    except FileNotFoundError:
        info = None
    data = journal.read(journal_path, STATE_LIMIT) if info is not None else None
    if data is None or info is None:
        return _Known(raw, None, base, None, [], base)
    folded_before = b"".join(known.lines) if known is not None else b""
    valid_from = base
    if folded_before and data.startswith(folded_before):
        read = journal.parse(data, name, start=len(folded_before))  # the lines appended since: fold only them
        if not read.changes:
            return _Known(raw, None, base, _journal_sig(info), [data[:read.whole]], known.state)
        folded, valid_from = journal.fold(known.state, read.changes), known.state
    else:
        read = journal.parse(data, name)
        if not read.base:  # a torn header and nothing else: an empty journal
            return _Known(raw, None, base, _journal_sig(info), [], base)
        folded = journal.fold(base, read.changes)
        if read.base != journal.digest(raw):
            # Written whole and killed before the journal was removed: the lines are already in
            # state.json (folding them changes nothing). Anything else is someone else's state.json.
            if folded is None or dumps(folded) != dumps(base):
                raise JournalMismatch(
                    f"{name} continues another {path.name} than the one there now ({path} was replaced, e.g. by "
                    f"git checkout or an editor, after gitops wrote the journal). Restore that {path.name}, or move "
                    f"{name} away to keep {path} as it is (the changes in the journal are then lost).")
            return _Known(raw, None, base, _journal_sig(info), [], base)  # the next append starts it anew
    if folded is None:
        raise StateError(f"{name}: a change does not fit {path} (a list shorter than where it continues). Move "
                         f"{name} away to go back to {path} as last written whole (its changes are then lost).")
    state = _with_frozen_records(validate(folded, f"{path} with {name} folded in", valid_from))[0]
    return _Known(raw, None, base, _journal_sig(info), [data[:read.whole]], state)


def _journal_sig(info: os.stat_result) -> tuple[int, int, int]:
    return (info.st_ino, info.st_size, info.st_mtime_ns)


# A file changed again within its timestamp's granularity may keep its stat (git's "racy clean"
# problem): its stat is trusted only once the file is older than this when it is looked at.
# Local file systems stamp at a clock tick (<= 10 ms); ones that stamp whole seconds get 2 s.
_RACY_NS, _RACY_COARSE_NS = 50_000_000, 2_000_000_000


def _sig(info: os.stat_result) -> tuple[int, ...] | None:
    """state.json's stat, when a later stat equal to it proves the bytes unchanged; None if too new."""
    coarse = info.st_mtime_ns % 1_000_000_000 == 0 and info.st_ctime_ns % 1_000_000_000 == 0
    if time.time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) < (_RACY_COARSE_NS if coarse else _RACY_NS):
        return None
    return _stat_key(info)


def _unchanged(path: Path, known: _Known) -> bool:
    """Both files are as this process last saw them, by their stat alone (no byte is read)."""
    if known.sig is None:
        return False
    try:
        info = os.stat(path)
    except OSError:
        return False
    if _stat_key(info) != known.sig:
        return False
    try:
        journal_info = os.stat(journal.path_for(path))
    except FileNotFoundError:
        return known.journal is None
    except OSError:
        return False
    return known.journal == _journal_sig(journal_info) and stat.S_ISREG(journal_info.st_mode)


def _with_frozen_records(state: dict, since: Mapping[str, Any] | None = None) -> tuple[dict, list[str]]:
    """A derived `state` whose task and gate records are frozen, and the tasks frozen anew.

    A record already frozen is kept as it is (the same object: its kept text stays valid); only
    the records a change made are copied, so this costs what the change touched. `since`: the state
    `state` was derived from, whose records are all frozen (only those set since are looked at).
    """
    frozen = derive(state)
    fresh: list[str] = []
    for key in ("tasks", "gates"):
        records = frozen.get(key)
        if not isinstance(records, dict):
            continue
        named = changed_since(state[key], since[key]) if since is not None and isinstance(since.get(key), dict) else None
        if named is not None:
            thawed = [name for name in named if name in records and type(records[name]) is not FrozenDict]
        else:  # the exact type, in one C-level pass: a call of is_frozen per record would cost what this saves
            thawed = list(compress(records, map(is_not, map(type, records.values()), repeat(FrozenDict))))
        for name in thawed:
            records[name] = freeze(records[name])
        if key == "tasks":
            fresh = thawed
    return frozen, fresh


# --- writing ----------------------------------------------------------------------------


def save(path: Path, state: dict, known_valid: Mapping[str, Any] | None = None) -> bool:
    """Validate and write `state` whole and atomically, only if it differs from the file (with its
    journal); True if written. `known_valid`: the valid state this one was changed from (only what
    differs is checked again)."""
    path = Path(path)
    _refuse_invalid(path, state, known_valid)
    return _write_whole(path, state, None)


def _refuse_invalid(path: Path, state: dict, known_valid: Mapping[str, Any] | None) -> None:
    problem = find_problem(state, known_valid)
    if problem:
        raise StateError(
            f"{path}: refusing to write an invalid state: {problem.describe()}. "
            "This is a bug in gitops or a handler; the file was not changed."
        )


def _write_whole(path: Path, state: dict, on_disk: bytes | None, since: Mapping[str, Any] | None = None) -> bool:
    """Write the valid `state` to `path` whole, then remove its journal (now in it); True if written.
    `on_disk`: state.json's bytes, read under the lock that is still held (None: read them)."""
    text, keys, texts = dumps_in_parts(state)
    data = text.encode("utf-8")
    # The caller keeps `state`, and its later changes stay its own: the cache holds frozen copies
    # of the records it made, and their entries' texts (written just now) go with them.
    frozen, fresh = _with_frozen_records(state, since)
    for task_id in fresh:
        at = bisect_left(keys, task_id)
        if at < len(keys) and keys[at] == task_id:
            keep_entry_text(task_id, frozen["tasks"][task_id], texts[at])
    journal_path = journal.path_for(path)
    try:
        same = (on_disk if on_disk is not None else read_regular(path, STATE_LIMIT)) == data
    except (OSError, NotRegular):
        same = False  # missing or unreadable: write it
    if not same:
        write_atomically(path, data)
    # After the new state.json, never before: killed in between, the journal's lines are in it
    # already, and the next reader finds so (gitops.state.journal, "settled").
    had_journal = journal_path.exists()
    journal.remove(journal_path)
    _known[_key(path)] = _Known(data, None, frozen, None, [], frozen)
    return not same or had_journal


def update(
    path: Path,
    change: Callable[[dict], dict],
    *,
    create: Callable[[], dict] | None = None,
    lock_timeout: float = 30.0,
) -> dict:
    """Read-modify-write under an exclusive file lock: apply `change` to the newest state."""
    path = Path(path)
    with _locked(path, lock_timeout):
        # Do not call update() from inside `change`: the lock is not re-entrant across instances.
        return _apply(path, change, create)


def settle(path: Path, lock_timeout: float = 30.0) -> bool:
    """Write state.json whole with its journal folded in, and remove the journal; True if there was
    one. What a command does when it ends, so that state.json is whole while no gitops runs."""
    path = Path(path)
    if not journal.path_for(path).exists():
        return False
    with _locked(path, lock_timeout):
        known = _current(path)
        if known is None or known.journal is None:
            return False
        _write_whole(path, known.state, known.raw)
        return True


@contextmanager
def journaled(path: Path) -> Iterator[None]:
    """Within: this process appends its transitions on `path` to the journal (gitops.state.journal);
    at the end state.json is written whole. A run of many tasks uses it; a single command's change
    is written whole at once, as are changes made by other processes meanwhile."""
    key = _key(path)
    _journaling[key] = _journaling.get(key, 0) + 1
    failed = True
    try:
        yield
        failed = False
    finally:
        _journaling[key] -= 1
        if not _journaling[key]:
            del _journaling[key]
            try:
                settle(path)
            except StateError:
                if not failed:
                    raise
                # Already failing: that error is the one to see. The journal stays, and the next
                # reader folds it in: nothing is lost.


# Real paths of the states this process journals (journaled() may nest: a count each).
_journaling: dict[str, int] = {}


@contextmanager
def _locked(path: Path, lock_timeout: float) -> Iterator[None]:
    # Imported here: filelock pulls in asyncio (~30 ms), and read-only commands never lock.
    import filelock

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
        yield
    finally:
        lock.release()


# The journal is written whole into state.json once it is this large, and at least as large as
# state.json: each whole write is then paid for by as many bytes of appends, so a transition's
# cost does not grow with the state (gitops.state.journal).
JOURNAL_MIN = 64 * 1024


def _apply(path: Path, change: Callable[[dict], dict], create: Callable[[], dict] | None) -> dict:
    known = _current(path)  # a corrupt file raises here, before anything is written
    if known is None:
        if create is None:
            raise StateError(f"{path} does not exist. Run `gitops run` first to create it.")
        current, before = create(), None  # a new state is checked whole
    else:
        current = before = known.state
    try:
        # `change` gets a derived copy whose records are shared with the cache and frozen: it
        # replaces them or takes its own (document.own_record); the cache is dropped all the same
        # when the change does not end in a write.
        new = change(derive(current))
        if not isinstance(new, dict):
            raise TypeError(f"the change function must return the new state dict, got {type(new).__name__}")
        _refuse_invalid(path, new, before)
        remove_stale_temps(path)
        if known is None:
            _write_whole(path, new, None)  # a new state.json; a journal left of a deleted one goes
        elif _key(path) in _journaling:
            _journal(path, known, new)
        else:
            _write_whole(path, new, known.raw, known.state)
    except BaseException:
        _known.pop(_key(path), None)
        raise
    return new


def _journal(path: Path, known: _Known, new: dict) -> None:
    """Append what `new` changed to the journal, or write state.json whole when the journal is large."""
    change = journal.delta(known.state, new)
    if change is None:
        return
    line = journal.line(change)
    if known.whole + len(line) >= max(JOURNAL_MIN, len(known.raw)):
        _write_whole(path, new, known.raw, known.state)
        return
    journal_path = journal.path_for(path)
    fresh = known.journal is None or known.whole == 0
    data = (journal.header(known.raw) + line) if fresh else line
    try:
        info = journal.append(journal_path, data, None if fresh else known.whole)
    except OSError as error:
        raise StateError(f"{journal_path}: cannot append to the journal ({error.strerror}); {path} is "
                         "unchanged. Check that the folder is writable and the journal a regular file.") from None
    if fresh:
        fsync_directory(path.parent)  # the journal's name is part of the state now
    frozen = _with_frozen_records(new, known.state)[0]
    lines = [*known.lines, data] if not fresh else [data]
    whole = known.whole + len(data) if not fresh else len(data)
    _known[_key(path)] = _Known(known.raw, known.sig, known.base, _journal_sig(info), lines, frozen, whole)
