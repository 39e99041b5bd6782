"""Differential tests: the C-level passes (gitops.plan.summary, the planner's first open slot)
give exactly what the plain Python loops they replaced gave, on random task lists and states."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops.model import CheckStatus, TaskStatus
from gitops.plan import planner, summary, transitions
from gitops.plan.readiness import DONE, FINAL, PENDING, is_ready
from gitops.state import document
from gitops.state.frozen import freeze
from tests.gitops.builders import task, tasklist
from tests.gitops.plan.test_planner import fresh

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STATUSES = [s.value for s in TaskStatus]
CHECKS = [s.value for s in CheckStatus]
GATES = ["pending", "approved", "rejected"]


@st.composite
def scenes(draw):
    """A task list of up to 12 tasks in up to 3 phases, and a state with random statuses,
    checks and gates (not always one the engine would reach: the passes must agree anyway)."""
    count = draw(st.integers(1, 12))
    tasks = []
    for i in range(count):
        phase = 1 + i * 3 // count
        earlier = [t.id for t in tasks]
        deps = tuple(draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True))) if earlier else ()
        tasks.append(task(f"{phase}.{i + 1}", deps=deps, pause=draw(st.booleans()), criteria=1))
    tl = tasklist(*tasks)
    state = fresh(tl)
    for task_id in tl.tasks:
        record = document.own_record(state, task_id)
        record["status"] = draw(st.sampled_from(STATUSES))
        if record["status"] == "failed" and draw(st.booleans()):
            record["interrupted"] = True  # its result never arrived (gitops.plan.readiness.result_lost)
        if record["status"] == "waiting":  # the schema requires its window
            record["window"] = {"opened_at": "t0", "until": "2026-12-05T00:00:00+00:00", "evaluate": "m:f", "evaluated_at": None}
        record["checks"] = [{"criterion": "c", "status": s, "evidence": "e", "metrics": {}}
                            for s in draw(st.lists(st.sampled_from(CHECKS), max_size=3))]
    names = [p.gate_id for p in tl.phases[1:]] + list(tl.tasks)
    state["gates"] = {name: {"status": draw(st.sampled_from(GATES)), "approved_by": None, "at": None}
                      for name in draw(st.lists(st.sampled_from(names), unique=True))}
    return tl, state


def old_summary(tl, state) -> dict:
    """The summary keys as transitions.sync computed them before the passes moved into C."""
    records = state["tasks"]
    statuses = {t: records[t].get("status", PENDING) for t in tl.tasks}
    failed = [t for t, s in statuses.items() if s == "failed"]
    dependents: dict[str, list[str]] = {}
    for t in tl.tasks.values():
        for dep in t.dependencies:
            dependents.setdefault(dep, []).append(t.id)
    reached, stack = set(), list(failed)
    while stack:
        for dependent in dependents.get(stack.pop(), ()):
            if dependent not in reached:
                reached.add(dependent)
                stack.append(dependent)
    first, ready, current = {}, None, None
    for task_id, status in statuses.items():
        if status in ("running", "failed", "awaiting_approval"):
            first.setdefault(status, task_id)
            if status == "running":
                current = task_id
                break
        elif ready is None and status == PENDING and not first and is_ready(tl, state, tl.tasks[task_id]):
            ready = task_id
    if current is None:
        current = next((first[w] for w in ("running", "failed", "awaiting_approval") if w in first), ready)
        current = current or next((t for t, s in statuses.items() if s == "waiting"), None)
    counts = {s: 0 for s in CHECKS}
    for t in statuses:
        for check in records[t]["checks"]:
            counts[check["status"]] += 1
    return {
        "total_tasks": len(statuses),
        "completed_tasks": [t for t, s in statuses.items() if s == DONE],
        "blocked_tasks": [t for t, s in statuses.items() if s == PENDING and t in reached],
        "current_phase": next((tl.tasks[t].phase for t, s in statuses.items() if s not in FINAL), None),
        "current_task": current,
        "test_results": counts,
    }


@FUZZ
@given(scenes())
def test_sync_computes_the_summary_the_python_loops_computed(scene):
    tl, state = scene
    expected = old_summary(tl, state)
    transitions.sync(tl, state)
    assert _summary_of(state) == expected


@FUZZ
@given(scenes())
def test_the_planner_skips_to_the_slot_a_scan_from_the_start_reaches(scene):
    tl, state = scene
    transitions.sync(tl, state)
    runnable = frozenset(tl.tasks)
    skipping = planner.next_step(tl, state, runnable)
    original = planner._first_open_slot
    planner._first_open_slot = lambda *args: 0  # the scan from the first slot, as before
    try:
        scanning = planner.next_step(tl, state, runnable)
    finally:
        planner._first_open_slot = original
    assert skipping == scanning


def _summary_of(state: dict) -> dict:
    got = {key: state[key] for key in ("total_tasks", "completed_tasks", "blocked_tasks", "current_phase", "current_task")}
    got["test_results"] = {key: state["test_results"][key] for key in CHECKS}
    return got


@FUZZ
@given(scenes(), st.lists(st.tuples(st.integers(0, 11), st.sampled_from(STATUSES),
                                    st.lists(st.sampled_from(CHECKS), max_size=2), st.booleans()), max_size=8))
def test_sync_counts_rightly_across_states_that_share_frozen_records(scene, edits):
    """summary.tally reads again only the records that are not the objects it counted: a run of
    transitions, each changing one record (frozen, or plain and editable), must count as afresh."""
    tl, state = scene
    state["tasks"] = {task_id: freeze(record) for task_id, record in state["tasks"].items()}
    ids = list(tl.tasks)
    for index, status, checks, frozen in edits:
        state = document.derive(state)
        record = document.own_record(state, ids[index % len(ids)])
        record.update(status=status, checks=[{"criterion": "c", "status": c, "evidence": "e", "metrics": {}} for c in checks])
        record.pop("interrupted", None)
        if status == "waiting":
            record["window"] = {"opened_at": "t0", "until": "2026-12-05T00:00:00+00:00", "evaluate": "m:f", "evaluated_at": None}
        if frozen:
            state["tasks"][ids[index % len(ids)]] = freeze(record)
        expected = old_summary(tl, state)
        transitions.sync(tl, state)
        assert _summary_of(state) == expected
        if not frozen:  # a plain record edited in place after it was counted is counted again
            record["checks"] = []
            expected = old_summary(tl, state)
            transitions.sync(tl, state)
            assert _summary_of(state) == expected


@FUZZ
@given(scenes(), st.lists(st.tuples(st.integers(0, 11), st.sampled_from(STATUSES), st.sampled_from(["derive", "same", "plain"])),
                          max_size=30))
def test_the_tally_s_searches_resumed_where_they_left_off_agree_with_a_search_from_the_start(scene, changes) -> None:
    """Each change of one record (in a derived state, in the very records counted last, or in a plain
    copy), then every query: the kept floors, lists and the records' log must never go stale."""
    tl, state = scene
    ids = list(tl.tasks)
    for index, status, how in [(0, None, "same"), *changes]:
        if status is not None:
            task_id = ids[index % len(ids)]
            if how == "derive":
                state = document.derive(state)
            elif how == "plain":
                state = {**state, "tasks": dict(state["tasks"])}
            state["tasks"][task_id] = freeze({**state["tasks"][task_id], "status": status})
        found = summary.tally(tl, state["tasks"])
        plain = {t: state["tasks"][t]["status"] for t in ids}
        for status_ in STATUSES:
            expected = [t for t in ids if plain[t] == status_]
            assert found.first_with(status_) == (expected[0] if expected else None)
            assert list(found.each_with(status_)) == expected
            assert found.with_status(status_) == expected
        for wanted in (FINAL, (PENDING,), (DONE, PENDING)):
            assert found.first_not_in(wanted) == next((t for t in ids if plain[t] not in wanted), None)
