"""Passes over every task's status in C: what keeps a transition's cost flat on a long list.

`transitions.sync` recomputes the state's summary keys (completed, blocked, current task and
phase, check counts) after every event. As Python loops those passes cost about a microsecond
per task each, so on 1,000 tasks they were the largest part of a transition that grew with the
list (issue 12, item 3). Built from map, compress and Counter, a pass costs a few tens of
nanoseconds per task. Each function reads the statuses in task-list order.
"""
from __future__ import annotations

from collections import Counter
from itertools import chain, compress, repeat
from operator import eq, itemgetter, methodcaller, ne
from typing import Any, Iterable, Mapping

from gitops.model import TaskList
from gitops.plan.readiness import PENDING

_STATUS = methodcaller("get", "status", PENDING)
_CHECKS = itemgetter("checks")
_CHECK_STATUS = itemgetter("status")


def statuses(tasklist: TaskList, records: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Each task's status in task-list order; every task must have a record."""
    ids = tasklist.tasks.keys()
    return dict(zip(ids, map(_STATUS, map(records.__getitem__, ids))))


def with_status(found: Mapping[str, str], status: str) -> list[str]:
    """The tasks whose status is `status`, in order."""
    return list(compress(found, map(eq, found.values(), repeat(status))))


def first_with(found: Mapping[str, str], status: str) -> str | None:
    return next(compress(found, map(eq, found.values(), repeat(status))), None)


def first_not_in(found: Mapping[str, str], wanted: tuple[str, ...]) -> str | None:
    """The first task whose status is none of `wanted`."""
    outside = map(ne, map(wanted.__contains__, found.values()), repeat(True))
    return next(compress(found, outside), None)


def all_in(found: Mapping[str, str], ids: Iterable[str], wanted: tuple[str, ...]) -> bool:
    return all(map(wanted.__contains__, map(found.__getitem__, ids)))


def check_counts(records: Mapping[str, Mapping[str, Any]], ids: Iterable[str]) -> Counter:
    """How many checks of the tasks `ids` have each status."""
    return Counter(map(_CHECK_STATUS, chain.from_iterable(map(_CHECKS, map(records.__getitem__, ids)))))
