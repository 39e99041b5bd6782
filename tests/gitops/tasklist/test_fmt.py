"""gitops/tasklist/fmt.py: a task list rewritten in the canonical dialect means the same, a second
fmt changes nothing, and no text is dropped."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitops.errors import TaskListError
from gitops.model import Severity
from gitops.tasklist.fmt import format_text
from gitops.tasklist.graph import changed_tasks, task_meaning
from gitops.tasklist.parser import no_tasks, parse
from tests.gitops.tasklist.test_fmt_fuzz import dropped_words

REPO = Path(__file__).parents[3]
DIALECTS = sorted((REPO / "tests/data/dialects").glob("*.md"))
# Every task list of the repository that reads without errors (the seed has duplicate ids).
LISTS = [*DIALECTS, REPO / "migration/B-1006.md", *sorted((REPO / "tests/data").glob("*.md"))]


def _fmt(text: str) -> str:
    return format_text(text, "list.md").text


@pytest.mark.parametrize("path", LISTS, ids=lambda p: p.name)
def test_fmt_keeps_the_task_graph_and_a_second_fmt_changes_nothing(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    before, diagnostics = parse(text, path.name)
    assert not [d for d in diagnostics if d.severity is Severity.ERROR]
    formatted = format_text(text, path.name)
    after, _ = parse(formatted.text, path.name)
    assert formatted.kept == ()
    assert [task_meaning(t) for t in after.tasks.values()] == [task_meaning(t) for t in before.tasks.values()]
    assert [(p.number, p.title, p.task_ids) for p in after.phases] == [
        (p.number, p.title, p.task_ids) for p in before.phases]
    assert changed_tasks(before, after) == set()
    assert _fmt(formatted.text) == formatted.text
    assert dropped_words(text, formatted.text) == set()


@pytest.mark.parametrize("name", ["migration/B-1006.md", "tests/data/dialects/seed_do_done_when.md",
                                  "tests/data/run_pipeline.md"])
def test_a_list_in_the_canonical_dialect_is_left_byte_for_byte(name: str) -> None:
    text = (REPO / name).read_text(encoding="utf-8")
    assert _fmt(text) == text


def test_list_item_tasks_become_headings_with_their_fields() -> None:
    text = (REPO / "tests/data/dialects/list_item_tasks.md").read_text(encoding="utf-8")
    assert _fmt(text) == """\
# Sprint 14 tasks

### Phase 1: Cleanup

#### Task 1.1: Remove the old feature flags
**Estimated Time**: 1 hour
**Auto-Advance**: yes

#### Task 1.2: Delete unused endpoints
**Estimated Time**: 2 hours
**Auto-Advance**: yes (after review)

#### Task 1.3: Update the changelog
**Estimated Time**: 30 minutes
**Auto-Advance**: no

### Phase 2: Release

#### Task T1: Tag the release
**Done when**:
- [ ] The tag is pushed

#### Task T2: Announce it
**Dependencies**: T1

**Done when**:
- [ ] The announcement is posted
"""


def test_ids_are_kept_as_written_and_synonyms_get_the_engines_names() -> None:
    text = (REPO / "tests/data/dialects/t_ids_execution_steps.md").read_text(encoding="utf-8")
    assert _fmt(text) == """\
# Task list: payments retry

### Phase 1: Groundwork

#### Task T-1.1: Add the retry table
**Estimated Time**: 2h
**Dependencies**: None
**Status**: [ ]

**Do**:
1. Write the migration
2. Apply it to staging

**Quality Gates**:
- [ ] Migration reversible
- [ ] Staging applied

#### Task T-1.2: Record failed payments
**Estimated Time**: 0.5-1h
**Dependencies**: T-1.1

**Do**:
1. Insert a row per failure

**Quality Gates**:
- [ ] Rows appear for failures

### Phase 1 Execution Strategy
Run T-1.1 first; T-1.2 can follow the same day.

### Phase 2: Retries

#### Task T-2.1: Retry worker
**Estimated Time**: 2-3 hours
**Dependencies**: T-1.1..T-1.2, B-2041 completion

**Do**:
1. Poll the table
2. Retry with backoff

**Quality Gates**:
- [ ] Retries back off exponentially
"""


def test_sub_heading_fields_become_fields_and_tasks_without_a_phase_get_one() -> None:
    text = (REPO / "tests/data/dialects/subheadings.md").read_text(encoding="utf-8")
    assert _fmt(text).split("\n")[:16] == [
        "# Docs site migration", "", "Tasks are listed in order; there are no phases.", "",
        "### Phase 1", "", "#### Task 1: Inventory the pages", "**Estimated Time**: 1 hour",
        "**Dependencies**: None", "", "**Do**:", "1. Export the page list", "2. Mark pages to drop", "",
        "**Done when**:", "- [ ] Every page is listed with an owner"]


def test_statuses_become_boxes_unless_their_words_say_more() -> None:
    text = """\
### Phase 1: One

#### Task 1.1: Done one ✅ **COMPLETED**
**Done when**:
- [✅] it is done

#### Task 1.2: Going
**Status**: ⏳ In progress

#### Task 1.3: Later
**Status**: ⏸️ Deferred

#### Task 1.4: Blocked
**Status**: 🔴 Not Started
"""
    assert _fmt(text) == """\
### Phase 1: One

#### Task 1.1: Done one
**Status**: [x]

**Done when**:
- [x] it is done

#### Task 1.2: Going
**Status**: [ ] In progress

#### Task 1.3: Later
**Status**: ⏸️ Deferred

#### Task 1.4: Blocked
**Status**: [ ]
"""


def test_text_fmt_does_not_read_is_kept_after_the_fields_never_dropped() -> None:
    text = """\
# Plan

## Phase 1: Build

Intro prose for the phase.

### Task 1.1: Build the [site](https://example.com)
**Owner:** Ada | **Priority:** High
**Estimate:** 2h

Notes before the steps.

**Steps:**
- Render the pages
  ```sh
  make site
  ```
- Upload them

**Acceptance Criteria:**
- [x] **Pages** - every page renders
  - detail under the criterion
- [ ] Upload works

> A quote the engine does not read.

---
"""
    assert _fmt(text) == """\
# Plan

### Phase 1: Build

Intro prose for the phase.

#### Task 1.1: Build the [site](https://example.com)
**Priority**: High
**Estimated Time**: 2h

**Do**:
1. Render the pages
   ```sh
   make site
   ```
2. Upload them

**Done when**:
- [x] **Pages** - every page renders
  - detail under the criterion
- [ ] Upload works

**Owner**: Ada

Notes before the steps.

> A quote the engine does not read.

---
"""


def test_heading_levels_are_kept_when_canonical_ones_would_end_the_task_area() -> None:
    # Under `### Phase 1`, `### Notes` would end the task list before Task 1.2.
    text = """\
## Phase 1: Build

### Task 1.1: Build
**Done when**:
- [ ] built

### Notes
Some notes.

### Task 1.2: Ship
**Acceptance Criteria**:
- [ ] shipped
"""
    assert _fmt(text) == text.replace("**Acceptance Criteria**", "**Done when**")


def test_a_task_that_would_read_differently_is_kept_as_written_and_named() -> None:
    text = """\
### Phase 1: Build

#### Task 1.1: Build
**Acceptance Criteria**:
- **[x] built**

#### Task 1.2: Ship
**Acceptance Criteria**:
- [ ] shipped
"""
    formatted = format_text(text, "list.md")
    assert formatted.kept == ("1.1",)
    assert formatted.text == text.replace("**Acceptance Criteria**:\n- [ ] shipped", "**Done when**:\n- [ ] shipped")


def test_line_endings_are_kept() -> None:
    text = "### Phase 1: One\r\n\r\n#### Task 1.1: One\r\n**Acceptance Criteria**:\r\n- [ ] ok\r\n"
    assert _fmt(text) == "### Phase 1: One\r\n\r\n#### Task 1.1: One\r\n**Done when**:\r\n- [ ] ok\r\n"


def test_a_list_with_errors_is_refused_with_them() -> None:
    text = "### Phase 1: One\n\n#### Task 1.1: One\n**Done when**:\n- [ ] a\n\n#### Task 1.1: Again\n"
    with pytest.raises(TaskListError) as raised:
        format_text(text, "list.md")
    assert str(raised.value) == (
        "list.md: fmt rewrites only a task list that reads without errors; fix these first "
        "(`gitops lint list.md` lists them):\n"
        "list.md:7: error: duplicate task id 1.1: Task 1.1 is defined at line 3 and again at line 7; "
        "give one of them a new id (this one is ignored)")


def test_a_document_without_tasks_is_refused() -> None:
    with pytest.raises(TaskListError) as raised:
        format_text("# Notes\n\nNothing to do.\n", "notes.md")
    assert str(raised.value) == no_tasks("notes.md")


def test_the_canonical_example_of_the_format_doc_is_canonical() -> None:
    doc = (REPO / "docs/tasklist.md").read_text(encoding="utf-8")
    example = doc.split("```markdown\n", 1)[1].split("```\n", 1)[0]
    tasklist, diagnostics = parse(example, "example.md")
    assert list(tasklist.tasks) == ["1.1"] and diagnostics == []
    assert _fmt(example) == example


def test_a_heading_with_an_anchor_keeps_its_text_at_the_canonical_level() -> None:
    text = "## Phase 1: Setup {#setup}\n\n### Task 1.1: One {#one}\n**Done when**:\n- [ ] ok\n"
    assert _fmt(text) == "### Phase 1: Setup {#setup}\n\n#### Task 1.1: One {#one}\n**Done when**:\n- [ ] ok\n"



def test_an_emoji_in_a_heading_text_is_kept_one_before_it_or_a_status_mark_is_not() -> None:
    text = ("## 🚀 Phase 1: Ship it 🎉\n\n## 🚀 Phase 2: Then\n\n#### **Task 2.1: Go** ✅ **COMPLETED**\n"
            "**Done when**:\n- [x] ok\n")
    assert _fmt(text) == ("### 🚀 Phase 1: Ship it 🎉\n\n### Phase 2: Then\n\n#### Task 2.1: Go\n**Status**: [x]\n\n"
                          "**Done when**:\n- [x] ok\n")
