"""Property tests for gitops/tasklist/fmt.py: on any task list it accepts, fmt keeps the meaning
(the parsed task graph) and a second fmt changes nothing."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops.errors import TaskListError
from gitops.model import Severity
from gitops.tasklist.fmt import format_text
from gitops.tasklist.graph import changed_tasks
from gitops.tasklist.parser import parse

REPO = Path(__file__).parents[3]
BASES = [p.read_text(encoding="utf-8").split("\n")
         for p in (REPO / "migration/B-1006.md", *sorted((REPO / "tests/data/dialects").glob("*.md")))]
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Dialect pieces, so mutations reach the rewriting of each shape.
FRAGMENTS = [
    "", "---", "## Phase 3: Three", "### Phase 1 Quality Gates", "#### Task 9.1: Nine", "### T-9 Tee",
    "- **Task 7.1**: Item task (1 hour) - Auto-advance: yes", "- T9: Item", "  - [ ] nested criterion",
    "  - **Dependencies**: T1", "**Priority:** High | **Estimated Time:** 2 hours", "**Status**: ✅ Completed",
    "**Status**: In progress", "**Status**: ⏸️ Deferred", "**Acceptance Criteria:**", "**Quality Gates**:",
    "**Testing Requirements**:", "**Execution Steps**:", "**Description**: prose", "#### Subtasks:",
    "#### Acceptance Criteria:", "- [x] **Label** - text", "- [✅] done", "- plain bullet", "1. step",
    "   continued step", "  - sub item", "**Notes**: free text", "```", "code line", "> quote",
    "- **Owner**: Ada", "**Depends on**: T-1.1..T-1.2, B-2041 completion", "**Dependencies**: Task 1.1",
    "See [the docs](https://example.com).", "#### Task 1.1: Linked [doc](https://x.y)", "**Run**: `true`",
    "#### Set up the database", "**Dependencies**: sometime",
]


@st.composite
def mutated_lists(draw: st.DrawFn) -> str:
    lines = list(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(lines)))
        action = draw(st.sampled_from(["delete", "duplicate", "insert", "insert", "swap"]))
        if action == "delete" and lines:
            del lines[at:at + draw(st.integers(1, 5))]
        elif action == "duplicate" and at < len(lines):
            lines[at:at] = lines[at:at + draw(st.integers(1, 10))]
        elif action == "insert":
            lines.insert(at, draw(st.sampled_from(FRAGMENTS)))
        elif action == "swap" and lines:
            other = draw(st.integers(0, len(lines) - 1))
            at = min(at, len(lines) - 1)
            lines[at], lines[other] = lines[other], lines[at]
    return "\n".join(lines)


@FUZZ
@given(mutated_lists())
def test_fmt_keeps_the_meaning_and_is_idempotent(text: str) -> None:
    before, diagnostics = parse(text, "fuzz.md")
    if any(d.severity is Severity.ERROR for d in diagnostics) or not before.tasks:
        return  # fmt refuses these (test_fmt.py)
    try:
        once = format_text(text, "fuzz.md").text
    except TaskListError as exc:  # it may keep a file it cannot rewrite, never damage it
        assert "cannot rewrite this task list without changing what it means" in str(exc)
        return
    assert changed_tasks(before, parse(once, "fuzz.md")[0]) == set()
    assert format_text(once, "fuzz.md").text == once
    assert dropped_words(text, once) == set()


# Words fmt may drop: the names it rewrites (Acceptance Criteria is Done when), status words a box
# says (`✅ Completed` is `[x]`), box marks, and the bullet numbers it renumbers.
REWRITTEN = {*"acceptance success criteria definition of done implementation execution steps subtasks details "
             "commands action items depends on dependency prerequisites blocked by time duration estimate "
             "estimated effort tests completed complete finished pending not started to todo open skipped "
             "x".split()}


def dropped_words(before: str, after: str) -> set[str]:
    """Words of `before` that `after` has fewer of: fmt keeps every word but those it rewrites."""
    def words(text: str) -> Counter[str]:
        return Counter(word.lower() for word in re.findall(r"[^\W_]+", text) if not word.isdigit())
    return {word for word in words(before) - words(after) if word not in REWRITTEN}
