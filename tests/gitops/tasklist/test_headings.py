"""Tests for gitops/tasklist/headings.py: task and phase headings in the shapes people write."""
from __future__ import annotations

import pytest

from gitops.tasklist.headings import PhaseHeading, TaskHeading, phase_heading, task_heading
from gitops.tasklist.markdown import read_blocks
from gitops.tasklist.parser import parse


def _heading(source: str) -> tuple[str, str, str, str | None]:
    block = read_blocks(source)[0][0]
    return block.kind, block.key, block.title, block.mark


@pytest.mark.parametrize(("source", "read"), [
    ("### Task 1.1: Build it", ("task", "1.1", "Build it", None)),
    ("#### Task 01.2 - Build it", ("task", "1.2", "Build it", None)),
    ("### Task 1: Build it", ("task", "1", "Build it", None)),
    ("### Task A1: Build it", ("task", "A1", "Build it", None)),
    ("### Task T-1: Build it", ("task", "T-1", "Build it", None)),
    ("### Task T1: Build it", ("task", "T1", "Build it", None)),
    ("#### T-1.1: Build it", ("task", "T-1.1", "Build it", None)),
    ("#### T-1.1 Build it", ("task", "T-1.1", "Build it", None)),
    ("### T1 — Build it", ("task", "T1", "Build it", None)),
    ("#### **Task 1.1: Build it**", ("task", "1.1", "Build it", None)),
    ("#### Task 1.1: Build it ✅ **COMPLETED**", ("task", "1.1", "Build it", "x")),
    ("#### Task 1.1: Build it ⏳", ("task", "1.1", "Build it", None)),
    ("#### Task 1.1: Build it (Done)", ("task", "1.1", "Build it", "x")),
    ("#### Task 1.1: Build it - PENDING", ("task", "1.1", "Build it", " ")),
    ("#### Task 1.1: Build it ⏸️ **SKIPPED**", ("task", "1.1", "Build it", "-")),
    ("### Task 2.1", ("task", "2.1", "Task 2.1", None)),
    # not tasks: three numbers, other scripts' digits, bare numbering, lower-case prefixes
    ("### Task 1.1.1: Sub step", ("heading", "", "", None)),
    ("### Task ١.٢: Arabic digits", ("heading", "", "", None)),
    ("### 1.1 Overview", ("heading", "", "", None)),
    ("### A1 Goals", ("heading", "", "", None)),
    ("### step2: Build", ("heading", "", "", None)),
    ("### T1a: Build", ("heading", "", "", None)),
    ("### T1 Results", ("heading", "", "", None)),
    ("### T-1 Results", ("task", "T-1", "Results", None)),
])
def test_task_headings(source: str, read: tuple[str, str, str, str | None]) -> None:
    assert _heading(source) == read


@pytest.mark.parametrize(("source", "read"), [
    ("## Phase 1: Setup", ("phase", "1", "Setup", None)),
    ("### Phase 2 — Build", ("phase", "2", "Build", None)),
    ("## **Phase 3: Ship**", ("phase", "3", "Ship", None)),
    ("## 🚀 Phase 1: Setup (2 hours)", ("phase", "1", "Setup (2 hours)", None)),
    ("## Phase 1: Setup (MUST)", ("phase", "1", "Setup (MUST)", None)),
    ("## Phase 4 (P0)", ("phase", "4", "Phase 4 (P0)", None)),
    ("## Phase 5", ("phase", "5", "Phase 5", None)),
    ("## Phase 6 Rollout", ("phase", "6", "Rollout", None)),
    ("### Phase 1 Quality Gates", ("heading", "", "", None)),
    ("### Phase 2 Execution Strategy", ("heading", "", "", None)),
    ("### Exit Criteria", ("heading", "", "", None)),
    ("### Phase 1.5: Half", ("heading", "", "", None)),
])
def test_phase_headings(source: str, read: tuple[str, str, str, str | None]) -> None:
    assert _heading(source) == read


def test_the_readers_return_values() -> None:
    assert task_heading("T-1.1: Go", "T-1.1: Go") == TaskHeading("T-1.1", "Go", None)
    assert phase_heading("Phase 2: Two") == PhaseHeading(2, "Two")


def test_a_phase_section_inside_the_task_area_does_not_end_it() -> None:
    text = ("## Phase 1: One\n### Task 1.1: A\n**Done when**:\n- [ ] a\n"
            "## Phase 1 Quality Gates\n- [ ] lint\n"
            "## Phase 2: Two\n### Task 2.1: B\n**Done when**:\n- [ ] b\n")
    tasklist, diagnostics = parse(text, "t.md")
    assert [(p.number, p.task_ids) for p in tasklist.phases] == [(1, ("1.1",)), (2, ("2.1",))]
    assert diagnostics == []


def test_lettered_ids_without_phase_headings_share_one_phase() -> None:
    text = "### T-1: A\n**Done when**:\n- [ ] a\n### T-2: B\n**Dependencies**: T-1\n**Done when**:\n- [ ] b\n"
    tasklist, _ = parse(text, "t.md")
    assert [(p.number, p.title, p.task_ids) for p in tasklist.phases] == [(1, "Phase 1", ("T-1", "T-2"))]
    assert [(t.id, t.phase) for t in tasklist.tasks.values()] == [("T-1", 1), ("T-2", 1)]


def test_lettered_two_number_ids_without_phase_headings_take_the_phase_from_the_id() -> None:
    text = "### T-1.1: A\n**Done when**:\n- [ ] a\n### T-2.1: B\n**Done when**:\n- [ ] b\n"
    tasklist, _ = parse(text, "t.md")
    assert [(p.number, p.task_ids) for p in tasklist.phases] == [(1, ("T-1.1",)), (2, ("T-2.1",))]


def test_a_heading_marker_sets_the_status_unless_a_status_field_does() -> None:
    text = ("## Phase 1: One\n### Task 1.1: A ✅\n**Done when**:\n- [ ] a\n"
            "### Task 1.2: B ✅ COMPLETED\n**Status**: [ ]\n**Done when**:\n- [ ] b\n")
    tasks = parse(text, "t.md")[0].tasks
    assert (tasks["1.1"].status_mark, tasks["1.2"].status_mark) == ("x", " ")


def test_a_phase_section_between_phases_does_not_end_the_task_area() -> None:
    text = ("## Phase 1: One\n### Task 1.1: A\n**Done when**:\n- [ ] a\n"
            "## Exit Criteria\n- [ ] Phase 1 reviewed\n"
            "## Phase 2: Two\n### Task 2.1: B\n**Done when**:\n- [ ] b\n"
            "## Success Criteria\n- [ ] shipped\n### Task 9.9: After\n")
    tasklist, diagnostics = parse(text, "t.md")
    assert [(p.number, p.task_ids) for p in tasklist.phases] == [(1, ("1.1",)), (2, ("2.1",))]
    # after the last phase it ends the task list, as any heading at the phase level does
    assert [(d.line, d.severity.value, d.message) for d in diagnostics] == [
        (13, "warning", "'Task 9.9: After' comes after the task list ended at line 11 ('Success Criteria') and "
                        "is ignored; move it above that heading")]
