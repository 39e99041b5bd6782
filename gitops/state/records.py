"""The task or gate records of a derived state, and which of them were set since it was derived.

A transition derives a new state from the last (gitops.state.document.derive): it shares every
record and replaces one or two. The passes that follow (the tally of statuses, the schema check,
the journal's line, freezing the new records) used to find those one or two by comparing every
record with its predecessor: a C-level pass, but one per task per pass, several passes per
transition, so a transition's cost still grew with the task list. `Records` remembers the names
it was given new values for, and the state it was copied from, so `changed_since` answers from a
few derived states back with the names alone. Whatever it cannot vouch for (a removal, an update
in bulk, a plain dict, a state too many steps back) it answers None, and the caller compares all.
"""
from __future__ import annotations

from typing import Any, Mapping

# How many derivations back `changed_since` follows. A state keeps alive the records maps of at
# most this many predecessors (pointers to shared records: ~10 KB each at 1,000 tasks).
MAX_DEPTH = 64


class Records(dict):
    """A dict of records copied from `origin`; `changed` holds the names set since, each with the
    count of assignments when it was last set (None: unknown)."""

    __slots__ = ("origin", "changed", "depth", "sets")

    def __init__(self, source: Mapping[str, Any] = (), /) -> None:
        super().__init__(source)
        depth = getattr(source, "depth", 0) + 1 if isinstance(source, dict) else 0
        self.origin = source if isinstance(source, dict) and depth <= MAX_DEPTH else None
        self.depth = depth if self.origin is not None else 0
        self.changed: dict[str, int] | None = {}
        self.sets = 0

    def __setitem__(self, key: str, value: Any) -> None:
        changed = self.changed
        if changed is not None:
            self.sets += 1
            changed[key] = self.sets
        dict.__setitem__(self, key, value)

    def _unknown(self) -> None:
        self.changed = None

    # Anything but a plain assignment: the names are no longer vouched for.
    def __delitem__(self, key: str) -> None:
        self._unknown()
        dict.__delitem__(self, key)

    def pop(self, *args: Any) -> Any:
        self._unknown()
        return dict.pop(self, *args)

    def popitem(self) -> tuple[str, Any]:
        self._unknown()
        return dict.popitem(self)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._unknown()
        return dict.setdefault(self, key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._unknown()
        dict.update(self, *args, **kwargs)

    def clear(self) -> None:
        self._unknown()
        dict.clear(self)

    def __ior__(self, other: Any) -> Records:
        self._unknown()
        dict.update(self, other)
        return self

    # Copies and pickles are plain dicts: they must not drag the predecessors along.
    def __copy__(self) -> dict:
        return dict(self)

    def __deepcopy__(self, memo: dict) -> dict:
        import copy

        return copy.deepcopy(dict(self), memo)

    def __reduce__(self) -> tuple:
        return (dict, (dict(self),))


def changed_since(records: Mapping[str, Any], source: Mapping[str, Any], seen: int | None = None) -> set[str] | None:
    """The names whose records may differ between `source` and `records` (a superset: a name set to
    the very same record is in it), when `records` was derived from `source`; None when unknown.

    `source` may itself have been set in after it was read: pass `seen`, its count of assignments
    then (`snapshot`), and what was set since is included. Without it, `source` is taken as it was.
    """
    names: set[str] = set()
    current: Any = records
    for _ in range(MAX_DEPTH + 1):
        if current is source:
            if seen is not None:
                if not isinstance(source, Records) or source.changed is None:
                    return None
                names.update(name for name, at in source.changed.items() if at > seen)
            return names
        if not isinstance(current, Records) or current.changed is None or current.origin is None:
            return None
        names.update(current.changed)
        current = current.origin
    return None


def snapshot(records: Mapping[str, Any]) -> int | None:
    """How many assignments `records` has had, for a later `changed_since(..., seen=)`; None: unknown."""
    if isinstance(records, Records) and records.changed is not None:
        return records.sets
    return None
