"""Property tests for gitops/tasklist/parser.py: no input makes parse or lint raise, lines stay in the file."""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops.errors import TaskListError
from gitops.model import Diagnostic
from gitops.tasklist.lint import lint
from gitops.tasklist.parser import load, parse

REPO = Path(__file__).parents[3]
SEED = REPO / "tests/data/seed/B-1006-seed.md"
BASES = [p.read_text(encoding="utf-8").split("\n") for p in (SEED, REPO / "migration/B-1006.md")
         if p.is_file()]

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces of task-list Markdown, so random documents reach the parser's deeper paths.
FRAGMENTS = [
    "", "---", "# Title", "## Phase 1: One", "### Phase 1 - Again", "#### Phase 99999999999: Big",
    "### Task 1.1: First", "#### Task 1.2 - Second", "## Task 2.1", "### Task 1.1.1: Sub",
    "**Priority**: High", "**Estimated Time**: 2 hours", "**Estimated Time**: 1-2 hours",
    "**Dependencies**: None", "**Dependencies**: Task 1.1, Task 1.2", "**Dependencies**: 1.1 and 9.9",
    "**Dependencies**: sometime", "**Status**: [ ]", "**Status**: [?]", "**Auto-Advance**: yes",
    "**Auto-Advance**: maybe", "**🛑 Pause After**: no", '**When Ready Prompt**: "Go?"',
    "**Run**: `true`", "**Run**: ``", "**Do**:", "1. step", "2. step", "**Done when**:",
    "- [ ] criterion", "- [x] **done** - yes", "- plain", "  - nested", "> quote",
    "**Total Tasks**: 3 tasks across 2 phases", "**Total Tasks**: lots", "### Current State",
    "```json", "```", '{"total_tasks": 3,', '"a": [1, {"b": 2}]}', "{", "## 🛠️ HotFix Template",
    "### T-HotFix-`<n>` Fix", "### Safety Rules", "- **Consecutive Failures**: after 0 failures",
    "- **Deployment Scripts**: Always pause", "### Human Checkpoints", "- Critical priority tasks",
    "### Quality Gates", "## Notes", "Setext", "===", "    indented code", "<div>", "\r", "\0",
]


def _line_count(text: str) -> int:
    return len(re.sub(r"\r\n?", "\n", text).split("\n"))


def _check(text: str, diagnostics: list[Diagnostic]) -> None:
    lines = _line_count(text)
    for diagnostic in diagnostics:
        assert 1 <= diagnostic.line <= lines, diagnostic


def _parse_and_lint(text: str) -> None:
    tasklist, diagnostics = parse(text, "fuzz.md")
    _check(text, diagnostics)
    _check(text, lint(tasklist, diagnostics, frozenset()))


@FUZZ
@given(st.text())
def test_parse_never_raises_on_random_text(text: str) -> None:
    _parse_and_lint(text)


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=60))
def test_parse_never_raises_on_markdown_soup(pieces: list[str]) -> None:
    _parse_and_lint("\n".join(pieces))


@st.composite
def mutated_bases(draw: st.DrawFn) -> str:
    lines = list(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(lines)))
        action = draw(st.sampled_from(["delete", "duplicate", "insert", "swap", "truncate"]))
        if action == "delete" and lines:
            del lines[at:at + draw(st.integers(1, 30))]
        elif action == "duplicate" and at < len(lines):
            lines[at:at] = lines[at:at + draw(st.integers(1, 30))]
        elif action == "insert":
            lines.insert(at, draw(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=30))))
        elif action == "swap" and lines:
            other = draw(st.integers(0, len(lines) - 1))
            at = min(at, len(lines) - 1)
            lines[at], lines[other] = lines[other], lines[at]
        elif action == "truncate" and at < len(lines):
            lines[at] = lines[at][:draw(st.integers(0, max(0, len(lines[at]))))]
    return "\n".join(lines)


@FUZZ
@given(mutated_bases())
def test_parse_never_raises_on_mutated_task_lists(text: str) -> None:
    _parse_and_lint(text)


@FUZZ
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_load_raises_only_task_list_errors_naming_the_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz list.md"
        path.write_bytes(data)
        try:
            tasklist, diagnostics = load(path)
        except TaskListError as exc:
            assert str(path) in str(exc)
            return
        _check(data.decode("utf-8-sig"), diagnostics)
        _check(data.decode("utf-8-sig"), lint(tasklist, diagnostics, frozenset()))
