"""Frozen records: a dict and a list to every reader, an error to every writer, plain when copied."""
from __future__ import annotations

import copy
import json
import pickle

import pytest

from gitops.state.document import copy_state
from gitops.state.frozen import FrozenDict, FrozenList, freeze, is_frozen, thaw

RECORD = {"status": "done", "attempts": 1, "checks": [{"criterion": "c", "status": "passed", "metrics": {"n": 1}}]}


def test_a_frozen_record_reads_and_compares_as_the_plain_one():
    frozen = freeze(RECORD)
    assert frozen == RECORD and isinstance(frozen, dict) and isinstance(frozen["checks"], list)
    assert json.dumps(frozen, sort_keys=True, indent=2) == json.dumps(RECORD, sort_keys=True, indent=2)
    assert json.dumps(frozen) == json.dumps(RECORD)  # the C encoder too


@pytest.mark.parametrize("edit", [
    lambda r: r.__setitem__("status", "failed"),
    lambda r: r.__delitem__("status"),
    lambda r: r.update(status="failed"),
    lambda r: r.setdefault("new", 1),
    lambda r: r.pop("status"),
    lambda r: r.popitem(),
    lambda r: r.clear(),
    lambda r: r.__ior__({"status": "failed"}),
    lambda r: r["checks"].append({}),
    lambda r: r["checks"].extend([{}]),
    lambda r: r["checks"].insert(0, {}),
    lambda r: r["checks"].__setitem__(0, {}),
    lambda r: r["checks"].__delitem__(0),
    lambda r: r["checks"].pop(),
    lambda r: r["checks"].remove(r["checks"][0]),
    lambda r: r["checks"].clear(),
    lambda r: r["checks"].sort(),
    lambda r: r["checks"].reverse(),
    lambda r: r["checks"].__iadd__([{}]),
    lambda r: r["checks"].__imul__(2),
    lambda r: r["checks"][0]["metrics"].__setitem__("n", 2),
], ids=lambda _: "edit")
def test_every_edit_in_place_is_refused_and_names_the_way_to_edit(edit):
    frozen = freeze(RECORD)
    with pytest.raises(TypeError, match="own_record"):
        edit(frozen)
    assert frozen == RECORD


@pytest.mark.parametrize("make_copy", [copy.copy, copy.deepcopy, lambda r: pickle.loads(pickle.dumps(r)), copy_state, thaw])
def test_copies_are_plain_and_editable(make_copy):
    copied = make_copy(freeze(RECORD))
    assert copied == RECORD and not is_frozen(copied)
    copied["status"] = "failed"  # the copy is the caller's own
    if make_copy is not copy.copy:  # a shallow copy shares the frozen checks, as dict() would
        copied["checks"].append({})
        copied["checks"][0]["metrics"]["n"] = 2


def test_freezing_a_frozen_value_returns_it_and_thawing_copies_all_the_way_down():
    frozen = freeze(RECORD)
    assert freeze(frozen) is frozen
    plain = thaw(frozen)
    assert type(plain) is dict and type(plain["checks"]) is list and type(plain["checks"][0]["metrics"]) is dict
    assert type(freeze([1, {"a": []}])[1]["a"]) is FrozenList and type(freeze({"a": {}})["a"]) is FrozenDict
