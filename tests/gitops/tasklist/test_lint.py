"""Tests for gitops/tasklist/lint.py: every defect of the seed, graph checks, counts, checkpoints."""
from __future__ import annotations

from pathlib import Path

from gitops.model import Diagnostic, Severity
from gitops.tasklist.lint import lint
from gitops.tasklist.parser import load, parse

DATA = Path(__file__).parents[2] / "data" / "parser"
REPO = Path(__file__).parents[3]
SEED = REPO / "tests/data/seed/B-1006-seed.md"
B1006 = REPO / "migration" / "B-1006.md"

MANUAL = "has neither a handler nor a **Run** command: it will be manual (signed off at its checkpoint)"


def _lint_text(text: str, handler_ids: frozenset[str] | None = None) -> list[tuple[int, str, str]]:
    tasklist, diagnostics = parse(text, "t.md")
    return [(d.line, d.severity.value, d.message) for d in lint(tasklist, diagnostics, handler_ids)]


def _lint_file(path: Path, handler_ids: frozenset[str] | None = None,
               strict: bool = False) -> list[tuple[int, str, str]]:
    tasklist, diagnostics = load(path)
    return [(d.line, d.severity.value, d.message) for d in lint(tasklist, diagnostics, handler_ids, strict=strict)]


def test_seed_reports_each_defect_at_its_line() -> None:
    assert _lint_file(SEED) == [
        (6, "warning", 'the header says 10 tasks but the task list defines 13; change **Total '
                       'Tasks** to "13 tasks across 6 phases"'),
        (6, "warning", 'the header says 5 phases but the task list has 6; change **Total Tasks** '
                       'to "13 tasks across 6 phases"'),
        (7, "warning", "the header's **Estimated Time** is '12 hours' but the tasks' estimates add "
                       'up to 28 hours; change it to "28 hours"'),
        (111, "error", "duplicate task id 2.1: Task 2.1 is defined at line 81 and again at line "
                       "111; give one of them a new id (this one is ignored)"),
        (143, "warning", "Task 2.2 is under Phase 3; renumber it 3.<n> or move it under Phase 2"),
        (169, "warning", "Phase 3 is used twice (lines 109 and 169); its tasks are read as one "
                         "phase titled 'Compatibility Testing'; renumber or merge the phases"),
        (311, "warning", "Phase 5 has a task body but no Task heading; it is read as Task 5.1 "
                         "'MLflow Integration'; add a heading like `Task 5.1: MLflow "
                         "Integration` above line 311"),
        (427, "warning", "the Current State block says total_tasks is 8 but the task list "
                         "defines 13; change it to 13"),
    ]


def test_b1006_is_lint_clean_but_for_manual_tasks() -> None:
    assert _lint_file(B1006) == []
    manual = _lint_file(B1006, frozenset())
    assert len(manual) == 14
    heading = B1006.read_text(encoding="utf-8").split("\n").index(
        "#### Task 1.1: Pin DSPy 3.0.1 and Create Test Environment") + 1
    assert manual[0] == (heading, "warning", f"Task 1.1 {MANUAL}")
    assert all(severity == "warning" and MANUAL in message for _, severity, message in manual)
    tasklist, _ = load(B1006)
    assert _lint_file(B1006, frozenset(tasklist.tasks)) == []


def test_graph_problems() -> None:
    # Strict: the seed dialect's rules, where a task without criteria is an error.
    assert _lint_file(DATA / "graph.md", strict=True) == [
        (9, "error", "dependency cycle: Task 1.1 -> Task 1.2 -> Task 1.1; remove one of these "
                     "dependencies so the tasks can run in order"),
        (21, "error", "Task 1.3 depends on Task 7.7, which is not defined; fix **Dependencies** "
                      "or add a Task 7.7 heading"),
        (21, "error", "dependency cycle: Task 1.3 -> Task 1.3; remove one of these dependencies "
                      "so the tasks can run in order"),
        (29, "error", "dependency cycle: Task 2.1 -> Task 2.3 -> Task 2.2 -> Task 2.1; remove one "
                      "of these dependencies so the tasks can run in order"),
        (36, "warning", "Task 2.2 has Auto-Advance: yes and Pause After: yes, which contradict "
                        "each other; to pause after it set Auto-Advance: no, to continue set "
                        "Pause After: no"),
        (42, "error", "Task 2.3 has no **Done when** criteria; add `**Done when**:` followed by "
                      "`- [ ]` items that say how to check it"),
        (44, "warning", "Task 2.3 has Auto-Advance: yes and Pause After: yes (partly from the "
                        "header's defaults), which contradict each other; to pause after it set "
                        "Auto-Advance: no, to continue set Pause After: no"),
        (46, "warning", "Task 3.1 is under Phase 2; renumber it 2.<n> or move it under Phase 3"),
        (47, "warning", "Task 3.1 has Auto-Advance: no and Pause After: no (partly from the "
                        "header's defaults), which contradict each other; to pause after it set "
                        "Pause After: yes, to continue set Auto-Advance: yes"),
    ]


def test_a_task_without_criteria_is_a_warning_unless_strict_it_runs_as_manual() -> None:
    text = ("## Phase 1: A\n### Task 1.1: A\n**Quality Gates**:\n- [ ] lint\n"
            "### Task 1.2: B\n**Do**:\n1. b\n")
    tasklist, diagnostics = parse(text, "t.md")
    assert [(d.line, d.severity.value, d.message) for d in lint(tasklist, diagnostics)] == [
        (2, "warning", "Task 1.1 has no **Done when** criteria (its Quality Gates are shown, not checked): "
                       "it runs as manual, a person signs it off at its checkpoint; add `**Done when**:` (or "
                       "**Acceptance Criteria**:) followed by `- [ ]` items to have it checked"),
        (5, "warning", "Task 1.2 has no **Done when** criteria: it runs as manual, a person signs it off at "
                       "its checkpoint; add `**Done when**:` (or **Acceptance Criteria**:) followed by `- [ ]` "
                       "items to have it checked"),
    ]
    assert [(d.line, d.severity.value) for d in lint(tasklist, diagnostics, strict=True)] == [
        (2, "error"), (5, "error")]


def test_a_value_that_cannot_be_read_is_a_warning_unless_strict() -> None:
    text = ("## Phase 1: A\n### Task 1.1: A\n**Status**: ⏸️ Conditional\n**Auto-Advance**: maybe\n"
            "**Done when**:\n- [ ] ok\n")
    tasklist, diagnostics = parse(text, "t.md")
    assert tasklist.tasks["1.1"].status_mark == " " and tasklist.tasks["1.1"].auto_advance is None
    left_out = "cannot be read and is left out, as if not written"
    assert [(d.line, d.severity.value, d.message) for d in lint(tasklist, diagnostics)] == [
        (3, "warning", f"Task 1.1: **Status** value '⏸️ Conditional' {left_out}; write [ ] (to do), [x] "
                       "(done) or [!] (blocked)"),
        (4, "warning", f"Task 1.1: **Auto-Advance** value 'maybe' {left_out}; write yes or no (a note in "
                       "parentheses may follow)"),
    ]
    assert [(d.line, d.severity.value) for d in lint(tasklist, diagnostics, strict=True)] == [
        (3, "error"), (4, "error")]


def test_a_cycle_is_reported_once_whatever_task_it_is_entered_from() -> None:
    text = """## Phase 1: A
### Task 1.3: C
**Dependencies**: Task 1.1
**Done when**:
- [ ] ok
### Task 1.1: A
**Dependencies**: Task 1.2
**Done when**:
- [ ] ok
### Task 1.2: B
**Dependencies**: Task 1.3, Task 1.1
**Done when**:
- [ ] ok
"""
    cycles = [m for _, _, m in _lint_text(text) if m.startswith("dependency cycle")]
    # 1.3 comes first in the list, so every cycle starts there; {1.1, 1.2} is a second cycle.
    assert cycles == [
        "dependency cycle: Task 1.3 -> Task 1.1 -> Task 1.2 -> Task 1.3; remove one of these "
        "dependencies so the tasks can run in order",
        "dependency cycle: Task 1.1 -> Task 1.2 -> Task 1.1; remove one of these dependencies "
        "so the tasks can run in order",
    ]


def test_a_long_chain_does_not_hit_the_recursion_limit() -> None:
    parts = ["## Phase 1: Long"]
    for n in range(1, 3001):
        dep = f"Task 1.{n - 1}" if n > 1 else "None"
        parts.append(f"### Task 1.{n}: T\n**Dependencies**: {dep}\n**Done when**:\n- [ ] ok\n")
    assert _lint_text("\n".join(parts)) == []


def test_header_and_state_counts() -> None:
    text = """# T
**Total Tasks**: 3 tasks across 1 phase
**Estimated Time**: 4 hours

## Phase 1: A
### Task 1.1: B
**Estimated Time**: 90 minutes
**Done when**:
- [ ] ok

## State
### Current State
```json
{"total_tasks": 2}
```
"""
    assert _lint_text(text) == [
        (2, "warning", 'the header says 3 tasks but the task list defines 1; change **Total '
                       'Tasks** to "1 task across 1 phase"'),
        (3, "warning", "the header's **Estimated Time** is '4 hours' but the tasks' estimates "
                       'add up to 1.5 hours; change it to "1.5 hours"'),
        (14, "warning", "the Current State block says total_tasks is 2 but the task list "
                        "defines 1; change it to 1"),
    ]


def test_hours_are_compared_only_when_every_estimate_reads_as_hours() -> None:
    text = """**Estimated Time**: 4 hours
## Phase 1: A
### Task 1.1: B
**Estimated Time**: 1-2 days
**Done when**:
- [ ] ok
"""
    assert _lint_text(text) == []


def test_header_defaults_that_contradict() -> None:
    text = "**Auto-Advance**: yes\n**Pause After**: yes\n## Phase 1: A\n### Task 1.1: B\n" \
           "**Auto-Advance**: no\n**Done when**:\n- [ ] ok\n"
    assert _lint_text(text) == [
        (1, "warning", "the header has Auto-Advance: yes and Pause After: yes, which contradict "
                       "each other; to pause after it set Auto-Advance: no, to continue set "
                       "Pause After: no"),
    ]


def test_a_run_command_or_a_handler_makes_a_task_automatic() -> None:
    text = """## Phase 1: A
### Task 1.1: Scripted
**Run**: `make check`
**Done when**:
- [ ] ok
### Task 1.2: Handled
**Done when**:
- [ ] ok
### Task 1.3: Manual
**Done when**:
- [ ] ok
"""
    assert _lint_text(text, frozenset({"1.2"})) == [(9, "warning", f"Task 1.3 {MANUAL}")]
    assert _lint_text(text) == []  # without handler ids the check is off


def test_sorted_by_line_then_errors_first() -> None:
    tasklist, _ = parse("## Phase 1: A\n### Task 1.1: B\n**Done when**:\n- [ ] ok\n", "t.md")
    given = [Diagnostic("t.md", 5, Severity.WARNING, "w"), Diagnostic("t.md", 5, Severity.ERROR, "e"),
             Diagnostic("t.md", 1, Severity.WARNING, "first")]
    assert [d.message for d in lint(tasklist, given)] == ["first", "e", "w"]



def test_a_heading_with_task_fields_but_no_id_is_not_a_task_and_its_fields_stay_its_own() -> None:
    # Before: its Dependencies made Task 1.1 depend on itself (a cycle) and its criteria were a
    # second Done when of Task 1.1.
    text = ("## Phase 1: A\n#### Task 1.1: One\n**Done when**:\n- [ ] a\n\n#### Set up the database\n"
            "**Dependencies**: Task 1.1\n**Acceptance Criteria**:\n- [ ] db up\n\n#### Notes\nProse.\n\n"
            "#### Task 1.2: Two\n**Done when**:\n- [ ] b\n")
    tasklist, diagnostics = parse(text, "t.md")
    assert list(tasklist.tasks) == ["1.1", "1.2"]
    assert tasklist.tasks["1.1"].dependencies == ()
    assert [c.text for c in tasklist.tasks["1.1"].done_when] == ["a"]
    message = ("`Set up the database` has task fields but no task id, so it is not read as a task and does not "
               "run; give it an id, like `Task <id>: Set up the database`, or remove its fields")
    assert [(d.line, d.severity.value, d.message) for d in lint(tasklist, diagnostics)] == [(6, "warning", message)]
    assert [(d.line, d.severity.value) for d in lint(tasklist, diagnostics, strict=True)] == [(6, "error")]
