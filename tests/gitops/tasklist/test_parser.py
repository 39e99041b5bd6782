"""Tests for gitops/tasklist/parser.py: the seed, the corrected B-1006 list, variations, bad input."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gitops.errors import TaskListError
from gitops.model import Criterion, Diagnostic, ExternalDependency, HotFixTemplate, SafetyRules, Severity
from gitops.tasklist.fields import parse_hours
from gitops.tasklist.parser import NO_TASKS, load, parse

DATA = Path(__file__).parents[2] / "data" / "parser"
REPO = Path(__file__).parents[3]
SEED = REPO / "tests/data/seed/B-1006-seed.md"
B1006 = REPO / "migration" / "B-1006.md"



def _parse_data(name: str):
    path = DATA / name
    return parse(path.read_text(encoding="utf-8"), str(path))


def _messages(diagnostics: list[Diagnostic]) -> list[tuple[int, str, str]]:
    return [(d.line, d.severity.value, d.message) for d in diagnostics]


# --- the seed -----------------------------------------------------------------------------


def test_seed_header() -> None:
    tasklist, _ = load(SEED)
    header = tasklist.header
    assert tasklist.title == "Process Task List: B-1006 DSPy 3.0 Migration"
    assert header.project == ("B-1006 DSPy 3.0 Migration: Constitution-Aware Testing, "
                              "GEPA Optimization, and Safety Mechanisms")
    assert (header.total_tasks, header.total_phases) == (10, 5)
    assert (header.estimated_time, header.estimated_hours) == ("12 hours", 12.0)
    assert (header.auto_advance, header.pause_after) == (False, True)
    assert header.line_of["total_tasks"] == 6
    assert header.line_of["auto_advance"] == 18
    assert header.line_of["pause_after"] == 19


def test_seed_phases_keep_one_entry_per_number() -> None:
    tasklist, _ = load(SEED)
    assert [(p.number, p.title, p.line, p.task_ids) for p in tasklist.phases] == [
        (1, "Environment & Compatibility", 23, ("1.1", "1.2")),
        (2, "Constitution-Aware Testing Integration", 79, ("2.1",)),
        (3, "Compatibility Testing", 109, ("2.2", "3.1", "3.2", "3.3")),
        (4, "Surgical AsyncIO Integration", 253, ("4.1", "4.2")),
        (5, "MLflow Integration", 310, ("5.1", "5.2")),
        (6, "Production Deployment", 363, ("6.1", "6.2")),
    ]


def test_seed_keeps_the_first_of_duplicate_task_ids() -> None:
    tasklist, diagnostics = load(SEED)
    assert list(tasklist.tasks) == ["1.1", "1.2", "2.1", "2.2", "3.1", "3.2", "3.3", "4.1",
                                    "4.2", "5.1", "5.2", "6.1", "6.2"]
    assert tasklist.tasks["2.1"].line == 81
    assert (111, "error", "duplicate task id 2.1: Task 2.1 is defined at line 81 and again at "
                          "line 111; give one of them a new id (this one is ignored)"
            ) in _messages(diagnostics)


def test_seed_task_fields() -> None:
    tasklist, _ = load(SEED)
    task = tasklist.tasks["1.2"]
    assert (task.title, task.phase, task.line) == ("Install and Configure DSPy 3.0", 1, 53)
    assert (task.priority, task.estimated_time, task.dependencies) == ("Critical", "1 hour", ("1.1",))
    assert (task.status_mark, task.auto_advance, task.pause_after) == (" ", False, True)
    assert task.when_ready_prompt == ("DSPy 3.0 configuration complete. Proceed to "
                                      "constitution-aware testing integration?")
    assert task.do[1] == "Configure basic DSPy 3.0 settings (`dspy.configure()`)"
    assert task.done_when[0] == Criterion("DSPy 3.0 successfully installed in test environment", 67)
    assert dict(task.field_lines) == {
        "priority": 54, "estimated_time": 55, "dependencies": 56, "status": 57, "do": 59,
        "done_when": 66, "auto_advance": 73, "pause_after": 74, "when_ready_prompt": 75,
    }
    assert task.run is None and not task.implicit


def test_seed_phase_5_body_is_an_implicit_task() -> None:
    tasklist, diagnostics = load(SEED)
    task = tasklist.tasks["5.1"]
    assert (task.title, task.phase, task.line, task.implicit) == ("MLflow Integration", 5, 311, True)
    assert task.dependencies == ("3.2",)
    assert len(task.done_when) == 5
    assert (311, "warning", "Phase 5 has a task body but no Task heading; it is read as Task 5.1 "
                            "'MLflow Integration'; add a heading like `Task 5.1: MLflow "
                            "Integration` above line 311") in _messages(diagnostics)


def test_seed_phase_3_twice_is_a_warning() -> None:
    _, diagnostics = load(SEED)
    assert (169, "warning", "Phase 3 is used twice (lines 109 and 169); its tasks are read as one "
                            "phase titled 'Compatibility Testing'; renumber or merge the phases"
            ) in _messages(diagnostics)


def test_seed_emphasis_is_stripped_from_criteria_and_steps() -> None:
    tasklist, _ = load(SEED)
    # The duplicate 2.1 is dropped, so read the text from a parse of that section alone.
    text = SEED.read_text(encoding="utf-8").split("\n")
    section = "\n".join(["## Phase 2: X", *text[110:140]])
    task = parse(section, "s.md")[0].tasks["2.1"]
    assert task.done_when[1].text == "Schema compatibility confirmed - existing signatures work identically"
    assert task.do[1] == "Schema compatibility validation - Verify existing signatures work identically"
    assert tasklist.tasks["1.1"].done_when[0] == Criterion("DSPy 3.0.1 pinned in constraints.txt", 40)


def test_seed_sections_after_the_task_area() -> None:
    tasklist, _ = load(SEED)
    assert tasklist.initial_state is not None
    assert tasklist.initial_state["total_tasks"] == 8
    assert tasklist.initial_state["project"] == "B-1006-DSPy-3.0-Migration"
    assert tasklist.initial_state_line == 421
    assert tasklist.initial_state_lines["total_tasks"] == 427
    assert tasklist.quality_gates == (
        "Code Review Completed", "Tests Passing", "Documentation Updated", "Performance Validated",
        "Security Reviewed", "User Acceptance", "Resilience Tested", "Edge Cases Covered",
    )
    assert tasklist.safety == SafetyRules(2, ("database", "deploy"), True)


def test_seed_hotfix_template() -> None:
    tasklist, _ = load(SEED)
    template = tasklist.hotfix_template
    assert isinstance(template, HotFixTemplate)
    assert template.heading == "T-HotFix-`<n>` Fix `<short description>`"
    assert template.line == 456
    body = template.body.split("\n")
    assert body[0] == "**Priority**: Critical"
    assert body[2] == "**Depends on**: `[failed_task_id]`"
    assert body[-1] == '**When Ready Prompt**: "HotFix complete - retry original task?"'


@pytest.mark.parametrize(
    "heading",
    ["# HotFix drill for the payments DB", "## HotFix Process", "### Hotfix policy: who gets paged"],
)
def test_a_heading_that_only_mentions_hotfix_is_not_the_template(heading: str) -> None:
    text = f"{heading}\n\nSecret runbook text.\n\n## Phase 1: A\n### Task 1.1: B\n**Done when**:\n- [ ] ok\n"
    tasklist, _ = parse(text, "t.md")
    assert tasklist.hotfix_template is None


def test_the_template_is_found_by_its_own_heading_after_a_title_that_mentions_hotfix() -> None:
    text = ("# HotFix drill\n\n## Phase 1: A\n### Task 1.1: B\n**Done when**:\n- [ ] ok\n\n"
            "## HotFix Template\n\n**Priority**: Critical\n")
    template = parse(text, "t.md")[0].hotfix_template
    assert template is not None and (template.heading, template.body) == ("HotFix Template", "**Priority**: Critical")


def test_load_hashes_the_file_bytes() -> None:
    tasklist, _ = load(SEED)
    assert tasklist.sha256 == hashlib.sha256(SEED.read_bytes()).hexdigest()
    assert tasklist.path == str(SEED)


# --- the corrected task list ------------------------------------------------------------


def test_b1006_has_14_tasks_in_6_phases() -> None:
    tasklist, diagnostics = load(B1006)
    assert diagnostics == []
    assert [p.task_ids for p in tasklist.phases] == [
        ("1.1", "1.2"), ("2.1", "2.2", "2.3"), ("3.1", "3.2", "3.3"), ("4.1", "4.2"),
        ("5.1", "5.2"), ("6.1", "6.2"),
    ]
    assert next(p for p in tasklist.phases if p.number == 2).title == "Constitution-Aware Testing and Compatibility"
    assert (tasklist.header.total_tasks, tasklist.header.total_phases) == (14, 6)
    assert tasklist.header.estimated_hours == 31.0
    assert tasklist.initial_state is not None and tasklist.initial_state["total_tasks"] == 14


def test_b1006_renumbered_dependencies() -> None:
    tasks = load(B1006)[0].tasks
    assert tasks["2.2"].title == "Test Existing DSPy Modules Compatibility"
    assert tasks["2.2"].dependencies == ("1.2",)
    assert tasks["2.3"].title == "Validate Performance Benchmarks"
    assert tasks["2.3"].dependencies == ("2.2",)
    assert tasks["3.1"].dependencies == ("2.3",)
    assert tasks["5.1"].title == "Set Up MLflow Integration"
    assert not tasks["5.1"].implicit
    assert all(task.run is None for task in tasks.values())


def test_b1006_drops_the_apis_that_do_not_exist() -> None:
    tasks = load(B1006)[0].tasks
    task_text = " ".join(" ".join([*t.do, *(c.text for c in t.done_when)]) for t in tasks.values())
    # psycopg2 is back (issue 14): long-term memory is in PostgreSQL, as the seed's Task 4.1 says.
    assert "psycopg2" not in task_text.replace("uses existing psycopg2/sqlite3", "")
    assert "Zero new external dependencies (uses existing psycopg2/sqlite3)" in [c.text for c in tasks["4.1"].done_when]
    assert "dspy.Refine" in tasks["1.2"].done_when[2].text
    assert "absent" in tasks["1.2"].done_when[2].text
    assert "reflection_lm" in " ".join(tasks["3.2"].do)
    assert "soft" in " ".join(tasks["3.2"].do)


def test_b1006_lists_its_changes_right_after_the_title() -> None:
    lines = B1006.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "# Process Task List: B-1006 DSPy 3.0 Migration"
    assert lines[2] == "## Changes from the seed"


# --- variations ---------------------------------------------------------------------------


def test_variations_headings_at_any_level_and_dash_titles() -> None:
    tasklist, diagnostics = _parse_data("variations.md")
    assert tasklist.title == "Variations: a task list in another team's style"
    assert [(p.number, p.title, p.task_ids) for p in tasklist.phases] == [
        (1, "Setup", ("1.1",)), (2, "Build", ("2.1", "2.2", "2.3")),
    ]
    assert tasklist.tasks["1.1"].title == "Prepare the workspace"
    assert tasklist.tasks["2.1"].title == "Compile"  # an h5 under an h1 phase
    assert _messages(diagnostics) == [
        (62, "warning", "'Task 9.9: Not a task' comes after the task list ended at line 60 "
                        "('Notes') and is ignored; move it above that heading"),
    ]


def test_variations_field_spellings() -> None:
    tasks = _parse_data("variations.md")[0].tasks
    first = tasks["1.1"]
    assert (first.priority, first.status_mark, first.auto_advance, first.pause_after) == (
        "High", "x", True, False)
    assert first.do == ("Make the folder", "Write the config")
    assert first.done_when == (Criterion("Folder exists - under `build/`", 23, True),
                               Criterion("Config written", 24, False))
    assert tasks["2.1"].status_mark == "!"
    assert tasks["2.1"].when_ready_prompt == "Compiled. Ship it?"
    # the field paragraph right above `---` (a setext heading to CommonMark) is still fields
    assert (tasks["2.1"].auto_advance, tasks["2.1"].pause_after) == (False, True)
    assert tasks["2.1"].dependencies == ("1.1",)
    assert tasks["2.2"].dependencies == ("1.1", "2.1")
    assert tasks["2.3"].dependencies == ("2.1", "2.2")


def test_run_extension_strips_backticks() -> None:
    tasks = _parse_data("variations.md")[0].tasks
    assert tasks["1.1"].run == "python -c \"print('ok')\""
    assert tasks["1.1"].field_lines["run"] == 16
    assert tasks["2.2"].run == "tar czf out.tgz build"
    assert tasks["2.3"].run is None


def test_variations_header_and_safety() -> None:
    tasklist = _parse_data("variations.md")[0]
    assert tasklist.header.estimated_hours == 2.5
    assert (tasklist.header.auto_advance, tasklist.header.pause_after) == (True, False)
    assert tasklist.safety == SafetyRules(3, ("schema",), True)


@pytest.mark.parametrize(("phase", "task"), [
    ("#", "##"), ("##", "###"), ("###", "####"), ("######", "######"), ("###", "#"),
])
def test_heading_levels(phase: str, task: str) -> None:
    text = f"{phase} Phase 1: One\n\n{task} Task 1.1 - First\n**Done when**:\n- [ ] ok\n"
    tasklist, diagnostics = parse(text, "t.md")
    assert diagnostics == []
    assert tasklist.tasks["1.1"].title == "First"
    assert tasklist.phases[0].task_ids == ("1.1",)


def test_task_without_a_phase_heading_gets_one() -> None:
    tasklist, diagnostics = parse("### Task 2.1: Lonely\n**Done when**:\n- [ ] ok\n", "t.md")
    assert tasklist.tasks["2.1"].phase == 2
    assert [(p.number, p.title) for p in tasklist.phases] == [(2, "Phase 2")]
    assert _messages(diagnostics) == [
        (1, "warning", "Task 2.1 is not under a Phase heading and is read as part of Phase 2; "
                       "add a `Phase 2: Title` heading above it"),
    ]


def test_do_steps_continuing_the_field_paragraph() -> None:
    text = "## Phase 1: A\n### Task 1.1: B\n**Do**: first\n2. second\n**Done when**:\n- [ ] ok\n"
    task = parse(text, "t.md")[0].tasks["1.1"]
    assert task.do == ("first", "second")


def test_crlf_line_endings_keep_line_numbers() -> None:
    text = "## Phase 1: A\r\n\r\n### Task 1.1: B\r\n**Status**: [?]\r\n"
    tasklist, diagnostics = parse(text, "t.md")
    assert tasklist.tasks["1.1"].line == 3
    assert [d.line for d in diagnostics] == [4]
    assert tasklist.sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_no_safety_section_gives_neutral_defaults() -> None:
    tasklist = parse("## Phase 1: A\n### Task 1.1: B\n", "t.md")[0]
    assert tasklist.safety == SafetyRules(2, (), False)
    assert tasklist.hotfix_template is None and tasklist.initial_state is None


# --- unreadable values and bad input -------------------------------------------------------


def test_unreadable_field_values_are_left_out_with_a_warning() -> None:
    tasklist, diagnostics = _parse_data("bad_fields.md")
    task = tasklist.tasks["1.1"]
    assert task.priority == "High"
    assert (task.dependencies, task.status_mark, task.auto_advance, task.run) == ((), " ", None, None)
    assert task.external_dependencies == (ExternalDependency("text", "sometime"),)
    left_out = "cannot be read and is left out, as if not written"
    # issue 13: a value that cannot be read does not stop a run; `gitops lint --strict` makes these errors
    assert _messages(diagnostics) == [
        (3, "warning", f"the header: **Total Tasks** value 'many' {left_out}; write it like "
                       "10 tasks across 5 phases"),
        # free text is recorded and shown, not waited on
        (9, "warning", "Task 1.1 depends on 'sometime', which is not a task id: it is shown and not "
                       "waited on; if it means a task, write its id (like Task 1.1)"),
        (10, "warning", f"Task 1.1: **Status** value '[?]' {left_out}; write [ ] (to do), [x] "
                        "(done) or [!] (blocked)"),
        (11, "warning", f"Task 1.1: **Auto-Advance** value 'maybe' {left_out}; write yes or no "
                        "(a note in parentheses may follow)"),
        (12, "warning", f"Task 1.1: **Pause After** value 'perhaps' {left_out}; write yes or no "
                        "(a note in parentheses may follow)"),
        (13, "warning", f"Task 1.1: **Run** value '``' {left_out}; write **Run**: `command`"),
        (14, "warning", "Task 1.1 sets **Priority** twice (lines 8 and 14); the first one is "
                        "used; delete the other"),
    ]
    assert [d.line for d in diagnostics if d.strict] == [3, 10, 11, 12, 13]


def test_invalid_state_json_points_at_the_bad_line() -> None:
    tasklist, diagnostics = _parse_data("bad_state.md")
    assert tasklist.initial_state is None and tasklist.initial_state_line == 12
    assert diagnostics == [Diagnostic(
        str(DATA / "bad_state.md"), 16, Severity.ERROR,
        "the Current State block is not valid JSON (Expecting ',' delimiter, line 4 column 3 of "
        "the block); fix it")]


def test_parse_without_headings_reports_instead_of_raising() -> None:
    tasklist, diagnostics = _parse_data("no_headings.md")
    assert tasklist.tasks == {} and tasklist.title == "Just notes"
    assert _messages(diagnostics) == [(1, "error", NO_TASKS)]


def test_load_without_tasks() -> None:
    path = DATA / "no_headings.md"
    with pytest.raises(TaskListError) as raised:
        load(path)
    assert str(raised.value) == (
        f"{path}: no tasks found: gitops looks for task headings (`#### Task 1.1: Title`, `#### T-1.1: Title`, "
        "`#### Task A1: Title`, under `### Phase 1: Title` headings) and tasks written as list items "
        "(`- **Task 1.1**: Title`). A template or a guide has nothing to run; to run this file, give each "
        "task a heading like those, with its `**Done when**:` criteria")


def test_load_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.md"
    with pytest.raises(TaskListError) as raised:
        load(path)
    assert str(raised.value) == f"{path}: no such file; check the path or pass --tasklist PATH"


def test_load_directory(tmp_path: Path) -> None:
    with pytest.raises(TaskListError) as raised:
        load(tmp_path)
    assert str(raised.value) == (f"{tmp_path}: is a directory; pass the task list's Markdown "
                                 "file inside it")


def test_load_binary(tmp_path: Path) -> None:
    path = tmp_path / "x.md"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    with pytest.raises(TaskListError) as raised:
        load(path)
    assert str(raised.value) == (f"{path}: looks like a binary file, not a Markdown task list; "
                                 "pass the task list's .md file")


def test_load_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.md"
    path.write_bytes("## Phase 1: Café".encode("latin-1"))
    with pytest.raises(TaskListError) as raised:
        load(path)
    assert str(raised.value) == (f"{path}: is not UTF-8 text (invalid byte at offset 15); "
                                 "save the task list as UTF-8")


def test_load_utf16(tmp_path: Path) -> None:
    path = tmp_path / "x.md"
    path.write_bytes("## Phase 1: A".encode("utf-16"))
    with pytest.raises(TaskListError) as raised:
        load(path)
    assert str(raised.value) == f"{path}: is UTF-16 text; save the task list as UTF-8"


def test_load_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "x.md"
    data = "\ufeff## Phase 1: A\n### Task 1.1: B\n**Done when**:\n- [ ] ok\n".encode()
    path.write_bytes(data)
    tasklist, _ = load(path)
    assert list(tasklist.tasks) == ["1.1"]
    assert tasklist.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(("text", "hours"), [
    ("2 hours", 2.0), ("1 hour", 1.0), ("90 minutes", 1.5), ("1 hour 30 minutes", 1.5),
    ("1.5h", 1.5), ("1-2 hours", None), ("2 days", None), ("", None), (None, None),
])
def test_parse_hours(text: str | None, hours: float | None) -> None:
    assert parse_hours(text) == hours
