"""Records (gitops.state.records): the names set in a derived state's records, vouched for or None."""
from __future__ import annotations

import copy
import pickle

from gitops.state.document import derive
from gitops.state.records import MAX_DEPTH, Records, changed_since, snapshot


def test_the_names_set_since_a_state_are_found_back_through_its_derivations() -> None:
    base = {"tasks": Records({"a": 1, "b": 2, "c": 3})}
    first = derive(base)
    first["tasks"]["a"] = 10
    second = derive(first)
    second["tasks"]["d"] = 4  # a new name is a name set
    assert changed_since(second["tasks"], base["tasks"]) == {"a", "d"}
    assert changed_since(base["tasks"], base["tasks"]) == set()


def test_what_it_cannot_vouch_for_is_unknown() -> None:
    base = Records({"a": 1, "b": 2})
    for edit in (lambda r: r.pop("a"), lambda r: r.__delitem__("a"), lambda r: r.update(a=5),
                 lambda r: r.setdefault("z", 0), lambda r: r.clear(), lambda r: r.popitem()):
        derived = Records(base)
        edit(derived)
        assert changed_since(derived, base) is None
    assert changed_since({"a": 1}, base) is None  # a plain dict says nothing
    assert changed_since(Records(Records(base)), Records(base)) is None  # not derived from that one


def test_a_source_set_in_after_it_was_read_is_caught_with_its_snapshot() -> None:
    source = Records(Records({"a": 1, "b": 2}))
    source["a"] = 3
    seen = snapshot(source)
    source["b"] = 4  # after it was read
    source["a"] = 5  # set again after it was read: a name seen before, set anew
    derived = Records(source)
    assert changed_since(derived, source, seen) == {"a", "b"}
    assert changed_since(derived, {"a": 1}, 0) is None


def test_a_chain_is_cut_after_max_depth_so_a_state_keeps_few_predecessors_alive() -> None:
    records = Records({"a": 0})
    first = records
    for i in range(MAX_DEPTH + 5):
        records = Records(records)
        records["a"] = i
    assert records.depth <= MAX_DEPTH
    assert changed_since(records, first) is None


def test_copies_and_pickles_are_plain_dicts_without_the_predecessors() -> None:
    records = Records(Records({"a": {"x": 1}}))
    records["b"] = {"y": 2}
    for made in (copy.copy(records), copy.deepcopy(records), pickle.loads(pickle.dumps(records))):
        assert type(made) is dict and made == {"a": {"x": 1}, "b": {"y": 2}}
