"""state.json's canonical text: keys sorted, 2-space indent, trailing newline, built in parts.

Byte for byte `json.dumps(state, sort_keys=True, indent=2, ensure_ascii=False)`, but the parts
that grow with the task list are not re-encoded on every write: each task record's text is kept
while the record is unchanged (a frozen record, gitops.state.frozen, is unchanged by identity).
"""
from __future__ import annotations

import json
import marshal
import re
from itertools import compress
from json.encoder import encode_basestring
from operator import is_, not_

from gitops.state.frozen import is_frozen


def dumps(state: dict) -> str:
    """The canonical text of a state: keys sorted, 2-space indent, trailing newline.

    Byte for byte `json.dumps(state, sort_keys=True, indent=2, ensure_ascii=False)`, but the
    parts that grow with the task list are not re-encoded by json's pure-Python indenting
    encoder on every write (which made a transition cost grow with the list): each task
    record's text is kept between writes, and lists of strings (`completed_tasks`) are
    encoded string by string in C.
    """
    return dumps_in_parts(state)[0]


def dumps_in_parts(state: dict) -> tuple[str, list[str], list[str]]:
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
        keep_entry_text(task_id, record, text)
        return text
    try:
        key = marshal.dumps(record)
    except ValueError:  # not marshallable, hence not JSON either: json.dumps says what is wrong
        return f"    {json.dumps(task_id, ensure_ascii=False)}: " + _pretty(record).replace("\n", "\n    ")
    if kept is not None and kept[0] == key:
        return kept[1]
    text = f"    {json.dumps(task_id, ensure_ascii=False)}: {_record_text(record, key)}"
    keep_entry_text(task_id, key, text)
    return text


def keep_entry_text(task_id: str, key: object, text: str) -> None:
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
