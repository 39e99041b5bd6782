"""Read-only task and gate records: what lets a state write cost the records that changed.

A transition changes one or two records of a state that may hold thousands, and every other
record is shared with the state it came from (document.derive). Writing state.json used to
re-marshal every record to learn which ones changed, because a caller might have edited a
shared record in place; that made each transition's cost grow with the task list. The records
a process read or wrote are now frozen: an edit in place raises at once (a bug shown, never an
edit silently left out of the file), so a record that is the very object written last time
has the very same text, and state.file and the schema check may trust its identity.

`FrozenDict` and `FrozenList` are a dict and a list to every reader (isinstance, ==, json,
jsonschema); copies of them (copy, deepcopy, pickle, document.copy_state) are plain and editable.
"""
from __future__ import annotations

from typing import Any, NoReturn

_HOW = "records in a state are shared and read-only: take one to edit with gitops.state.document.own_record"


def _refuse(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(f"cannot edit a {type(self).__name__}: {_HOW}")


class FrozenDict(dict):
    """A JSON object that cannot be edited in place."""

    __slots__ = ()
    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __copy__(self) -> dict:
        return dict(self)

    def __deepcopy__(self, memo: dict) -> dict:
        return thaw(self)

    def __reduce__(self) -> tuple:
        return (dict, (dict(self),))


class FrozenList(list):
    """A JSON array that cannot be edited in place."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __copy__(self) -> list:
        return list(self)

    def __deepcopy__(self, memo: dict) -> list:
        return thaw(self)

    def __reduce__(self) -> tuple:
        return (list, (list(self),))


def freeze(value: Any) -> Any:
    """`value` with every dict and list in it frozen; an already frozen value is returned as is."""
    if isinstance(value, (FrozenDict, FrozenList)):
        return value
    if isinstance(value, dict):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return FrozenList([freeze(item) for item in value])
    return value


def thaw(value: Any) -> Any:
    """A plain, editable deep copy of a JSON value, frozen or not."""
    if isinstance(value, dict):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value


def is_frozen(value: Any) -> bool:
    return isinstance(value, (FrozenDict, FrozenList))
