"""Tests for task fields in the shapes and names people write (issue 13): synonyms, `|`-joined,
list items, sub-headings, Description as steps, further criteria, statuses, list-item tasks."""
from __future__ import annotations

import pytest

from gitops.model import Criterion
from gitops.tasklist.fields import Unreadable, read_bool, read_status
from gitops.tasklist.parser import parse


def _task(body: str, task_id: str = "1.1"):
    tasklist, diagnostics = parse(f"## Phase 1: One\n### Task {task_id}: A\n{body}", "t.md")
    return tasklist.tasks[task_id], [(d.line, d.severity.value, d.message) for d in diagnostics]


def test_synonyms_and_bar_joined_fields() -> None:
    task, diagnostics = _task("**Priority:** High | **Duration:** 2h | **Depends on**: None\n"
                              "**Acceptance Criteria:**\n- [ ] a\n- [✅] **Label** - b\n")
    assert (task.priority, task.estimated_time, task.dependencies) == ("High", "2h", ())
    assert task.done_when == (Criterion("a", 5), Criterion("Label - b", 6, True))
    assert dict(task.field_lines) == {"priority": 3, "estimated_time": 3, "dependencies": 3, "done_when": 4}
    assert diagnostics == []


def test_fields_as_list_items_with_nested_lists() -> None:
    task, diagnostics = _task("- **Estimated Time**: 1 hour\n- **Dependencies**: None\n"
                              "- **Implementation Steps**:\n  1. one\n  2. two\n"
                              "- **Success Criteria**:\n  - [ ] ok\n")
    assert (task.estimated_time, task.do, task.done_when) == ("1 hour", ("one", "two"), (Criterion("ok", 9),))
    assert diagnostics == []


def test_fields_as_sub_headings() -> None:
    task, diagnostics = _task("**Time**: 1h\n\n#### Subtasks:\n- one\n\n#### Acceptance Criteria:\n- [ ] ok\n")
    assert (task.do, task.done_when) == (("one",), (Criterion("ok", 9),))
    assert diagnostics == []


def test_sub_heading_fields_beside_task_headings_do_not_end_the_task_area() -> None:
    text = ("#### Task 1: A\n#### Acceptance Criteria:\n- [ ] a\n"
            "#### Task 2: B\n#### Acceptance Criteria:\n- [ ] b\n")
    tasklist, _ = parse(text, "t.md")
    assert [(t.id, t.done_when) for t in tasklist.tasks.values()] == [
        ("1", (Criterion("a", 3),)), ("2", (Criterion("b", 6),))]


def test_description_is_the_steps_when_there_are_none() -> None:
    task, _ = _task("**Description**: Build the thing.\n**Done when**:\n- [ ] ok\n")
    assert task.do == ("Build the thing.",)
    task, _ = _task("**Description**: Build the thing.\n**Do**:\n1. step\n")
    assert task.do == ("step",)


def test_further_criteria_are_kept_apart_by_kind() -> None:
    task, _ = _task("**Done when**:\n- [ ] a\n\n**Testing Requirements**:\n- [ ] t\n\n"
                    "**Quality Gates**:\n- [x] q\n")
    assert task.done_when == (Criterion("a", 4),)
    assert task.further_criteria == (Criterion("t", 7, kind="testing_requirements"),
                                     Criterion("q", 10, True, "quality_gates"))


def test_two_names_for_one_field_warn() -> None:
    _, diagnostics = _task("**Done when**:\n- [ ] a\n\n**Acceptance Criteria**:\n- [ ] b\n")
    assert diagnostics == [(6, "warning", "Task 1.1 sets **Done when** (line 3) and **Acceptance Criteria** "
                                          "(line 6), which mean the same; the first one is used; delete the other")]


@pytest.mark.parametrize(("value", "mark"), [
    ("[ ]", " "), ("[x]", "x"), ("[✅]", "x"), ("[!]", "!"), ("✅ Completed", "x"), ("✅ **COMPLETED**", "x"),
    ("✅", "x"), ("Pending", " "), ("⏳ Pending", " "), ("Not Started", " "), ("🔴 Not Started", " "),
    ("In Progress", " "), ("⏸️ Deferred", "-"), ("⏸️ **SKIPPED**", "-"), ("Blocked (waiting on ops)", "!"),
])
def test_statuses(value: str, mark: str) -> None:
    assert read_status(value) == mark


def test_an_unknown_status_is_unreadable() -> None:
    with pytest.raises(Unreadable):
        read_status("[?]")


@pytest.mark.parametrize(("value", "read"), [
    ("yes", True), ("yes - after review", True), ("yes (note)", True), ("no", False), ("—", None), ("-", None),
])
def test_auto_advance_values(value: str, read: bool | None) -> None:
    assert read_bool(value) == read


def test_tasks_as_list_items() -> None:
    text = ("## Phase 1: One\n"
            "- **Task 1.1**: Set up (1 hour) - Auto-advance: yes\n"
            "  - [ ] repo exists\n"
            "- **Task 1.2**: Build - Dependencies: Task 1.1\n"
            "  - **Do**: compile\n"
            "  - **Done when**:\n"
            "    - [ ] binary exists\n"
            "- [x] T3: Ship it\n")
    tasklist, diagnostics = parse(text, "t.md")
    assert [(t.id, t.title, t.line, t.estimated_time, t.auto_advance, t.dependencies, t.do, t.done_when,
             t.status_mark) for t in tasklist.tasks.values()] == [
        ("1.1", "Set up", 2, "1 hour", True, (), (), (Criterion("repo exists", 3),), " "),
        ("1.2", "Build", 4, None, None, ("1.1",), ("compile",), (Criterion("binary exists", 7),), " "),
        ("T3", "Ship it", 8, None, None, (), (), (), "x"),
    ]
    assert diagnostics == []


def test_a_list_that_is_not_all_tasks_is_not_read_as_tasks() -> None:
    task, _ = _task("**Done when**:\n- [ ] a\n\nNotes:\n\n- Task 1.2: see below\n- other\n")
    assert list(parse("## Phase 1: One\n- Task 1.2: x\n- other\n", "t.md")[0].tasks) == []
    assert task.done_when == (Criterion("a", 4),)


def test_a_phase_description_is_not_an_implicit_task() -> None:
    tasklist, _ = parse("## Phase 1: One\n**Duration**: 2 days\n**Description**: setup\n\n"
                        "### Task 1.1: A\n**Done when**:\n- [ ] a\n", "t.md")
    assert list(tasklist.tasks) == ["1.1"]


def test_a_priority_is_read_without_its_emoji() -> None:
    # the safety rule for Critical tasks reads the priority's first word
    task, _ = _task("**Priority**: 🔴 **Critical**\n**Done when**:\n- [ ] ok\n")
    assert task.priority == "Critical"


def test_a_list_of_tasks_that_headings_define_is_a_summary() -> None:
    text = ("## Phase 1: One\n### Task 1.1: A\n**Done when**:\n- [ ] a\n\n### Notes\n\n"
            "- Task 1.1: done first\n- Task 1.2: later\n")
    tasklist, diagnostics = parse(text, "t.md")
    assert list(tasklist.tasks) == ["1.1"] and diagnostics == []


def test_auto_advance_inside_another_fields_value_is_read_unless_the_task_sets_it() -> None:
    text = ("## Phase 1: A\n### Task 1.1: A\n**Solo Optimization**: Auto-advance: yes, Context preservation: yes\n"
            "### Task 1.2: B\n**Auto-Advance**: no\n**Solo Optimization**: Auto-advance: yes, pause after: yes\n"
            "### Task 1.3: C\n**Solo Optimization**: Context preservation: yes\n")
    tasklist, _ = parse(text, "t.md")
    assert [(t.auto_advance, t.pause_after) for t in tasklist.tasks.values()] == [
        (True, None), (False, True), (None, None)]


def test_pause_and_moscow_fields_under_the_names_people_give_them() -> None:
    text = ("## Phase 1: A\n### Task 1.1: A\n**MoSCoW**: 🔥 Must\n**Smart Pause**: yes - review the install\n"
            "### Task 1.2: B\n**Priority**: ⚡ Could\n**Smart Pause**: no\n"
            "### Task 1.3: C\n**Solo Optimization**: Auto-advance: yes, Smart Pause: yes\n")
    tasklist, diagnostics = parse(text, "t.md")
    assert [(t.priority, t.auto_advance, t.pause_after) for t in tasklist.tasks.values()] == [
        ("Must", None, True), ("Could", None, False), (None, True, True)]
    assert diagnostics == []
