"""Task ids as people write them: `1.1`, `1`, `T-1.1`, `T-1`, `T1`, `A1`.

An id is kept as written (`T-1.1` stays `T-1.1`: it names the task in state.json, gates and
HotFix issues), except that a purely numeric id is read as numbers (`01.2` is `1.2`), as the
engine always did. At most two numbers: `1.1.1` is a sub-step, not a task.
"""
from __future__ import annotations

import re
from typing import Iterable

# `[0-9]{1,9}`, not `\d+`: `\d` matches other scripts' digits and int() refuses >4300 digits.
# A letter prefix is upper case (`T-1`, `A1`, `CI3`): lower case would take words like `step2`.
ID = r"(?:[A-Z]{1,3}-?)?[0-9]{1,9}(?:\.[0-9]{1,9})?"
# The id ends here: not followed by another number (`1.1.1`) or by more of a word (`T1a`).
END = r"(?!\.?[0-9])(?![A-Za-z0-9_])"
_PARTS_RE = re.compile(r"(?P<prefix>[A-Z]{1,3}-?)?(?P<major>[0-9]{1,9})(?:\.(?P<minor>[0-9]{1,9}))?")


def normalise(written: str) -> str:
    """The id as the task list keys it: numeric ids as numbers, the others as written."""
    match = _PARTS_RE.fullmatch(written)
    if match is None or match.group("prefix"):
        return written
    minor = match.group("minor")
    return str(int(match.group("major"))) + (f".{int(minor)}" if minor is not None else "")


def phase_of(task_id: str) -> int | None:
    """The phase an id names (`1.2` and `T-1.2`: 1); None when it names none (`T-3`, `A1`, `7`)."""
    match = _PARTS_RE.fullmatch(task_id)
    if match is None or match.group("minor") is None:
        return None
    return int(match.group("major"))


def prefix_of(task_id: str) -> str:
    """The letters before the number (`T-1.1`: `T-`, `A1`: `A`, `1.1`: ``)."""
    match = _PARTS_RE.fullmatch(task_id)
    return (match.group("prefix") or "") if match else ""


def expand_range(first: str, last: str, limit: int = 100) -> tuple[str, ...] | None:
    """`C1`..`C3` -> C1, C2, C3; `1.1`..`1.3` -> 1.1, 1.2, 1.3; None when the two ids are not
    the same family (prefix and, for two-number ids, the same first number) or the range is
    backwards or longer than `limit` (a typo, not a plan)."""
    a, b = _PARTS_RE.fullmatch(first), _PARTS_RE.fullmatch(last)
    if a is None or b is None or a.group("prefix") != b.group("prefix"):
        return None
    if (a.group("minor") is None) != (b.group("minor") is None):
        return None
    prefix = a.group("prefix") or ""
    if a.group("minor") is None:
        low, high, stem = int(a.group("major")), int(b.group("major")), ""
    else:
        if int(a.group("major")) != int(b.group("major")):
            return None
        low, high, stem = int(a.group("minor")), int(b.group("minor")), f"{int(a.group('major'))}."
        if prefix:
            stem = f"{a.group('major')}."
    if not 0 <= high - low < limit:
        return None
    return tuple(normalise(f"{prefix}{stem}{n}") for n in range(low, high + 1))


class Resolver:
    """A reference to a task, resolved to the id that task was written with.

    People do not write a reference as they wrote the id: `T1` for `T-1`, `1.1` for `T-1.1` (the
    issue 13 survey: once the prefix is dropped, 1,277 of 1,279 references resolve). An exact id
    wins; else one task whose id differs only by the dash, else only by the letters; several
    candidates resolve to none (a guess could wait for the wrong task).
    """

    def __init__(self, task_ids: Iterable[str]) -> None:
        self.ids = set(task_ids)
        self.by_form: dict[tuple[str, str], list[str]] = {}
        self.by_numbers: dict[str, list[str]] = {}
        for task_id in self.ids:
            if (form := _form(task_id)) is not None:
                self.by_form.setdefault(form, []).append(task_id)
                self.by_numbers.setdefault(form[1], []).append(task_id)

    def resolve(self, reference: str) -> str | None:
        if reference in self.ids:
            return reference
        form = _form(reference)
        if form is None:
            return None
        for candidates in (self.by_form.get(form, []), self.by_numbers.get(form[1], [])):
            if len(candidates) == 1:
                return candidates[0]
        return None


def _form(task_id: str) -> tuple[str, str] | None:
    """(letters without the dash, numbers): `T-1.1` and `T1.1` are ("T", "1.1")."""
    match = _PARTS_RE.fullmatch(task_id)
    if match is None:
        return None
    numbers = str(int(match.group("major"))) + (f".{int(match.group('minor'))}" if match.group("minor") else "")
    return (match.group("prefix") or "").rstrip("-"), numbers
