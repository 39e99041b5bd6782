"""`gitops fmt`: a task list rewritten in the canonical dialect, its meaning unchanged.

The document is cut at its Phase and Task headings. What comes before the first and after the
task area is kept as written; a phase keeps its own text; a task gets a canonical heading and
fields (`canonical`), followed by every line of it that no field was read from, as written
(notes, code, `---`): nothing is dropped. Task ids are kept as written: state.json, gates,
HotFix issues and the handler registry name tasks by them.

The result is parsed again and must mean the same (`graph`). A task that would not is kept as
written; if heading levels are what changed the meaning (a `### Notes` heading that would end
the task area under `### Phase` headings), the levels are kept as written. A result that fmt
would rewrite again is not taken either (fmt twice changes nothing).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from gitops.errors import TaskListError
from gitops.model import Severity, Task, TaskList
from gitops.tasklist import canonical
from gitops.tasklist.drafts import Draft
from gitops.tasklist.fields import field_key, split_fields
from gitops.tasklist.graph import changed_tasks
from gitops.tasklist.markdown import Block
from gitops.tasklist.parser import Document, no_tasks, read_document
from gitops.tasklist.text import is_emoji

# A heading whose Markdown holds a link, an image, HTML or an `{#anchor}` keeps its text as
# written: its plain text would lose the link's target, or the anchor other pages link to.
_RICH_RE = re.compile(r"\]\(|\]\[|<|\{#")
_STATUS_MARKS = "✅✔☑⏳⏸\ufe0f\ufe0e"  # what headings.task_heading reads as a status
_LIST_START_RE = re.compile(r"\s|(?:[-*+]|[0-9]{1,9}[.)])(?:\s|$)")


@dataclass(frozen=True)
class Formatted:
    text: str
    kept: tuple[str, ...]  # ids of the tasks kept as written: rewritten, they would mean something else


@dataclass(frozen=True)
class _Layout:
    levels: bool  # `### Phase`, `#### Task`; else the levels as written
    phases: bool  # a `### Phase N` heading above tasks that have none
    verbatim: bool = False  # every task as written (the last resort)


_LAYOUTS = (_Layout(True, True), _Layout(False, True), _Layout(False, False), _Layout(False, False, True))


def format_text(text: str, path: str) -> Formatted:
    """The task list in the canonical dialect; raises TaskListError when it has parse errors
    (fmt would have to guess) or no tasks."""
    parsed = read_document(text, path)
    before, diagnostics = parsed.tasklist, parsed.diagnostics
    if not before.tasks:
        raise TaskListError(no_tasks(path))
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if errors:
        raise TaskListError("\n".join([f"{path}: fmt rewrites only a task list that reads without "
                                       f"errors; fix these first (`gitops lint {path}` lists them):",
                                       *(str(d) for d in errors)]))
    for formatted, after, layout in _candidates(text, parsed):
        if layout.verbatim or _stable(formatted.text, after, second=True):
            return formatted
    raise TaskListError(f"{path}: fmt cannot rewrite this task list without changing what it means, "
                        "so the file is left as it is; please report it with the file attached")


def _candidates(text: str, parsed: Document) -> Iterator[tuple[Formatted, Document, _Layout]]:
    """Rewritten texts that mean what `parsed` means, most canonical first, each with its parse."""
    before, path = parsed.tasklist, parsed.tasklist.path
    document = _Document(text, parsed)
    for layout in _LAYOUTS:
        verbatim: set[str] = set(before.tasks) if layout.verbatim else set()
        for _ in range(4):
            out = document.render(layout, verbatim)
            after = read_document(out, path)
            changed = _changed(before, after)
            if changed == set():
                yield Formatted(out, tuple(t for t in before.tasks if t in verbatim)), after, layout
                break
            if changed is None or changed <= verbatim:
                break  # more than single tasks changed: try the next layout
            verbatim |= changed


def _stable(text: str, parsed: Document, second: bool) -> bool:
    """Would fmt leave `text` as it is? Text moved under other text can read differently without
    meaning anything else (a heading that now ends the task area): such a rewrite is not taken.
    `second`: also run fmt's candidates on it (once; the all-as-written one is a fixed point)."""
    if _Document(text, parsed).render(_LAYOUTS[0], set()) == text:
        return True  # the most canonical rewrite is the text itself: no need to parse it again
    if not second:
        return False
    for formatted, after, layout in _candidates(text, parsed):
        if layout.verbatim or _stable(formatted.text, after, second=False):
            return formatted.text == text
    return False


def _changed(before: TaskList, after: Document) -> set[str] | None:
    if any(d.severity is Severity.ERROR for d in after.diagnostics):
        return None
    return changed_tasks(before, after.tasklist)


class _Document:
    """The source cut into prefix, phase and task segments, and suffix."""

    def __init__(self, text: str, parsed: Document) -> None:
        self.newline = "\r\n" if "\r\n" in text else "\n"
        blocks, self.lines, walker = parsed.blocks, parsed.lines, parsed.walker
        start, end = parsed.area
        area = blocks[start:end]
        self.tasks: dict[str, Task] = dict(parsed.tasklist.tasks)
        self.drafts = [d for d in walker.drafts if d.id in self.tasks]
        self.synthetic = {p.number: p for p in walker.phases.values() if p.synthetic}
        self.headings = {b.line: b for b in area if b.kind in ("phase", "task")}
        self.source = canonical.Source(self.lines, {item.line: item for b in area if b.kind == "list"
                                                    for top in b.items for item in (top, *top.children)})
        self.first = area[0].line
        self.end = blocks[end].line if end < len(blocks) else len(self.lines) + 1
        starts = sorted({*(d.line for d in self.drafts),
                         *(b.line for b in area if b.kind == "phase")}) + [self.end]
        self.stops = dict(zip(starts, starts[1:]))

    def render(self, layout: _Layout, verbatim: set[str]) -> str:
        """The document; the tasks in `verbatim` as written (it gains those that cannot be rewritten)."""
        segments: list[list[str]] = [_trimmed(self.lines[:self.first - 1])]
        drafts = {d.line: d for d in self.drafts}
        seen: set[int] = set()
        task_level = 4
        tight: list[str] | None = None  # a list-item task kept as written, which the next may join
        for line, stop in self.stops.items():
            block = self.headings.get(line)
            if block is not None and block.kind == "phase":
                segments.append(self._phase(block, stop, layout))
                task_level = 4 if layout.levels else min(block.level + 1, 6)
                continue
            draft = drafts[line]
            if draft.phase in self.synthetic and draft.phase not in seen and layout.phases:
                seen.add(draft.phase)
                segments.append([canonical.phase_heading(3 if layout.levels else max(task_level - 1, 1),
                                                         draft.phase, self.synthetic[draft.phase].title)])
            if block is not None and not layout.levels:
                task_level = block.level
            rewritten = None if draft.id in verbatim else self._task(draft, block, stop, task_level)
            if rewritten is None:
                verbatim.add(draft.id)
                kept = self.lines[line - 1:stop - 1]
                if block is not None:  # at the level of the tasks around it
                    kept[:block.end - block.line + 1] = _leveled(kept[:block.end - block.line + 1], task_level)
                rewritten = _trimmed(kept)
                if draft.item is not None and segments and segments[-1] is tight:
                    segments[-1].extend(rewritten)  # the next item of the same list: no blank line
                    continue
                if draft.item is not None:
                    tight = rewritten
            segments.append(rewritten)
        segments.append(_trimmed(self.lines[self.end - 1:]))
        return self.newline.join(_joined(segments)) + self.newline

    def _phase(self, block: Block, stop: int, layout: _Layout) -> list[str]:
        level = 3 if layout.levels else block.level
        if _rich(block.raw):
            heading = _leveled(self.lines[block.line - 1:block.end], level)
        else:
            heading = [canonical.phase_heading(level, int(block.key), block.title)]
        return _joined([heading, _trimmed(self.lines[block.end:stop - 1])])

    def _task(self, draft: Draft, block: Block | None, stop: int, level: int) -> list[str] | None:
        """The task rewritten, or None when it is to be kept as written."""
        fields = canonical.fields(draft, self.tasks[draft.id], self.source)
        claimed = fields.claimed
        if block is not None:
            claimed.update(range(block.line, block.end + 1))
        elif draft.item is not None:
            claimed.update(range(draft.line, draft.line + draft.item.raw.count("\n") + 1))
        if block is not None and _rich(block.raw):
            heading = _leveled(self.lines[block.line - 1:block.end], level)
        elif draft.item is not None and _rich(draft.item.raw):
            return _trimmed(self.lines[draft.line - 1:stop - 1])  # its title is in the item's line
        else:
            heading = [canonical.task_heading(level, draft.id, draft.title)]
        free = _joined([fields.shared, _runs([self.lines[n - 1] if n not in claimed else None
                                              for n in range(draft.line, stop)])])
        # Kept text goes last, unless it would continue the list above it (an indented line or a
        # list item after `- [ ] criterion`): then it goes before the lists.
        if any(_reads_as_field(line) for line in free[len(fields.shared):]):
            # A field line the parser did not read where it stands (written twice, or continuing a
            # list item): moved, it could be read, or read first.
            return None
        if fields.lists and not fields.bottom and free and _LIST_START_RE.match(free[0]):
            groups = [fields.top, free, *fields.lists]
        elif not fields.lists:
            groups = [fields.top + fields.bottom, free]  # one paragraph of fields
        else:
            groups = [fields.top, *fields.lists, fields.bottom, free]
        return heading + _joined(groups)


def _rich(raw: str) -> bool:
    """Would the heading's plain text lose something: a link, HTML, an anchor, or an emoji in its
    text (one before it, `## 🚀 Phase 1`, is decoration; a status mark becomes the Status field)?"""
    text = raw.strip().lstrip("*_ ")
    while text and is_emoji(text[0]):
        text = text[1:].lstrip()
    return bool(_RICH_RE.search(raw)) or any(is_emoji(ch) and ch not in _STATUS_MARKS for ch in text)


def _reads_as_field(line: str) -> bool:
    """A line that holds a field fmt rewrites (`**Status**: x`, `- **Do**:`)."""
    text = _LIST_START_RE.sub("", line, count=1) if _LIST_START_RE.match(line) else line
    return any(field_key(name) in canonical.NAMES for name, _ in split_fields(text.lstrip()))


def _leveled(heading: list[str], level: int) -> list[str]:
    """A heading as written, at `level` when it is an ATX heading (`### ...`)."""
    if len(heading) == 1 and (text := heading[0].lstrip()).startswith("#"):
        return ["#" * level + text.lstrip("#")]
    return heading


def _joined(groups: list[list[str]]) -> list[str]:
    out: list[str] = []
    for group in filter(None, groups):
        out += [""] * bool(out) + group
    return out


def _trimmed(lines: list[str]) -> list[str]:
    """The lines without blank lines at either end."""
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    end = len(lines)
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _runs(lines: list[str | None]) -> list[str]:
    """The stretches of lines between claimed ones (None), each as written, one blank line apart."""
    stretches: list[list[str]] = [[]]
    for line in lines:
        if line is None:
            stretches.append([])
        else:
            stretches[-1].append(line)
    out: list[str] = []
    for stretch in filter(None, map(_trimmed, stretches)):
        out += [""] * bool(out) + stretch
    return out
