"""Read a process task list (Markdown) into a TaskList, reporting problems as diagnostics."""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Callable

from markdown_it import MarkdownIt
from markdown_it.token import Token

from gitops.errors import TaskListError
from gitops.model import (
    Criterion,
    Diagnostic,
    Header,
    HotFixTemplate,
    Phase,
    SafetyRules,
    Severity,
    Task,
    TaskList,
)

_MD = MarkdownIt("commonmark")

# `[0-9]{1,9}`, not `\d+`: `\d` matches other scripts' digits and int() refuses >4300 digits.
_PHASE_RE = re.compile(r"phase\s+([0-9]{1,9})(?!\.?[0-9])\s*[:.\-–—]?\s*(.*)", re.I | re.S)
_TASK_RE = re.compile(r"task\s+([0-9]{1,9})\.([0-9]{1,9})(?!\.?[0-9])\s*[:\-–—]?\s*(.*)", re.I | re.S)
_DEP_RE = re.compile(r"(?:task\s+)?([0-9]{1,9})\.([0-9]{1,9})", re.I)
# `**Name**: value` and `**Name:** value`
_FIELD_RES = (
    re.compile(r"\s*\*\*([^*]+?)\*\*\s*:\s*(.*)"),
    re.compile(r"\s*\*\*([^*]+?):\*\*\s*(.*)"),
)
_ITEM_RE = re.compile(r"\s*(?:[0-9]{1,9}[.)]|[-*+])\s+(.*)")
_CHECKBOX_RE = re.compile(r"\[([ xX]?)\]\s*(.*)", re.S)
_BOOL_RE = re.compile(r"(yes|no|true|false)(?:\s*(?:\(.*\)|[-–—,;:].*))?\.?", re.I | re.S)
_STATUS_RE = re.compile(r"\[([ xX!]?)\](.*)", re.S)
_HOURS_RE = re.compile(r"([0-9]{1,6}(?:\.[0-9]{1,6})?)\s*(hours?|hrs?|h|minutes?|mins?|m)\b\s*(?:and\s*)?", re.I)
_TOTAL_RE = re.compile(r"([0-9]{1,9})(?:\s*tasks?)?(?:\s+(?:across|in|over)\s+([0-9]{1,9})\s*phases?)?\b.*", re.I | re.S)
_EMPHASIS_RE = re.compile(r"(\*\*|__)(.+?)\1")
_ANCHOR_RE = re.compile(r"\s*\{#[^}]*\}\s*$")
_COLON_RE = re.compile(r"\s*:")

_LIST_FIELDS = ("do", "done_when")
_TASK_FIELDS = frozenset(
    {"priority", "estimated_time", "dependencies", "status", "auto_advance", "pause_after",
     "when_ready_prompt", "run", *_LIST_FIELDS}
)
_FIELD_ALIASES = {"depends_on": "dependencies"}


class _Unreadable(ValueError):
    """A field value that cannot be read; the message lists the accepted values."""


# ---------------------------------------------------------------------------------------
# Public API


def parse(text: str, path: str) -> tuple[TaskList, list[Diagnostic]]:
    """Parse task-list Markdown; never raises, problems come back as diagnostics."""
    # markdown-it normalizes newlines and NULs the same way; token.map indexes these lines.
    source = re.sub(r"\r\n?", "\n", text).replace("\0", "\ufffd")
    lines = source.split("\n")
    blocks = _blocks(_MD.parse(source), lines)
    sink = _Sink(path)
    start, end = _task_area(blocks)
    if start == len(blocks):
        sink.error(1, "no Phase or Task headings found; add headings like "
                      "`## Phase 1: Title` and `### Task 1.1: Title`")
    header = _read_header(blocks[:start], sink)
    phases, tasks = _read_tasks(blocks[start:end], sink)
    _warn_ignored_headings(blocks, end, sink)
    extras = _read_sections(blocks, start, end, lines, sink)
    tasklist = TaskList(
        path=path,
        title=_title(blocks, path),
        header=header,
        phases=phases,
        tasks=MappingProxyType(tasks),
        sha256=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        **extras,
    )
    return tasklist, sorted(sink.diagnostics, key=lambda d: (d.line, d.severity != Severity.ERROR))


def load(path: str | Path) -> tuple[TaskList, list[Diagnostic]]:
    """Read and parse a task-list file; raises TaskListError when it cannot be used at all."""
    name = str(path)
    data = _read_bytes(Path(path), name)
    tasklist, diagnostics = parse(_decode(data, name), name)
    if not tasklist.tasks:
        raise TaskListError(f"{name}: no tasks found; a task list needs headings like "
                            "`## Phase 1: Title` followed by `### Task 1.1: Title`")
    return replace(tasklist, sha256=hashlib.sha256(data).hexdigest()), diagnostics


def parse_hours(text: str | None) -> float | None:
    """Read "2 hours", "90 minutes" or "1 hour 30 minutes" as hours; None when it is not that."""
    if not text:
        return None
    cleaned = _unmark(text).strip()
    matches = list(_HOURS_RE.finditer(cleaned))
    # Non-overlapping matches that start at 0 and add up to the whole text leave no gaps.
    if not matches or matches[0].start() or sum(len(m.group(0)) for m in matches) != len(cleaned):
        return None
    total = 0.0
    for match in matches:
        amount = float(match.group(1))
        total += amount / 60 if match.group(2).lower().startswith("m") else amount
    return total


def _decode(data: bytes, name: str) -> str:
    # PowerShell's `>` writes UTF-16 with a byte order mark: say so rather than "binary".
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TaskListError(f"{name}: is UTF-16 text; save the task list as UTF-8")
    if b"\0" in data:
        raise TaskListError(f"{name}: looks like a binary file, not a Markdown task list; "
                            "pass the task list's .md file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TaskListError(f"{name}: is not UTF-8 text (invalid byte at offset {exc.start}); "
                            "save the task list as UTF-8") from None


def _read_bytes(path: Path, name: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TaskListError(f"{name}: no such file; check the path or pass --tasklist PATH") from None
    except IsADirectoryError:
        raise TaskListError(f"{name}: is a directory; pass the task list's Markdown file "
                            "inside it") from None
    except (OSError, ValueError) as exc:
        # ValueError: a path with a NUL byte; OSError: permissions, a FIFO, a broken disk.
        reason = getattr(exc, "strerror", None) or str(exc)
        raise TaskListError(f"{name}: cannot be read ({reason}); check the path and its "
                            "permissions") from None


# ---------------------------------------------------------------------------------------
# Blocks: the top-level Markdown structure, one entry per heading/paragraph/list/fence


@dataclass
class _Item:
    line: int
    text: str  # plain text: emphasis removed, code spans kept
    raw: str  # Markdown source of the item's first paragraph


@dataclass
class _Block:
    kind: str  # phase | task | heading | paragraph | list | fence | other
    line: int  # 1-based first line
    end: int  # 1-based last line
    level: int = 0  # heading level
    text: str = ""  # heading: plain text without emoji
    raw: str = ""  # heading: Markdown source; fence: content
    info: str = ""  # fence info string
    lines: list[str] = field(default_factory=list)  # paragraph source lines
    items: list[_Item] = field(default_factory=list)
    key: str = ""  # phase number or task id
    title: str = ""


def _blocks(tokens: list[Token], lines: list[str]) -> list[_Block]:
    blocks: list[_Block] = []
    for index, token in enumerate(tokens):
        if token.level != 0 or token.nesting < 0 or token.map is None:
            continue
        first, last = token.map[0] + 1, max(token.map[0] + 1, token.map[1])
        if token.type == "heading_open":
            blocks.append(_heading_block(token, tokens[index + 1], lines))
        elif token.type == "paragraph_open":
            blocks.append(_Block("paragraph", first, last, lines=lines[first - 1:last]))
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            blocks.append(_Block("list", first, last, items=_list_items(tokens, index)))
        elif token.type == "fence":
            blocks.append(_Block("fence", first, last, raw=token.content, info=token.info.strip()))
        else:
            blocks.append(_Block("other", first, last))
    return blocks


def _heading_block(token: Token, inline: Token, lines: list[str]) -> _Block:
    assert token.map is not None and inline.map is not None
    first, last = token.map[0] + 1, token.map[1]
    content = lines[inline.map[0]:inline.map[1]]
    # A field paragraph directly above `---` is a setext heading to CommonMark; keep it fields.
    if token.markup in ("-", "=") and content and all(_field_match(line) for line in content):
        return _Block("paragraph", first, inline.map[1], lines=content)
    block = _Block("heading", first, last, level=int(token.tag[1:]), raw=inline.content,
                   text=_heading_text(inline))
    _classify(block)
    return block


def _classify(block: _Block) -> None:
    if match := _TASK_RE.fullmatch(block.text):
        block.kind, block.key = "task", f"{int(match.group(1))}.{int(match.group(2))}"
        block.title = match.group(3).strip() or f"Task {block.key}"
    elif match := _PHASE_RE.fullmatch(block.text):
        block.kind, block.key = "phase", str(int(match.group(1)))
        block.title = match.group(2).strip() or f"Phase {block.key}"


def _list_items(tokens: list[Token], start: int) -> list[_Item]:
    items: list[_Item] = []
    for token in tokens[start + 1:]:
        if token.level == 0:  # the list's closing token
            break
        if token.type == "list_item_open" and token.level == 1 and token.map:
            items.append(_Item(token.map[0] + 1, "", ""))
        elif token.type == "inline" and token.level == 3 and items and not items[-1].raw:
            items[-1].text, items[-1].raw = _plain(token), token.content
    return items


def _plain(inline: Token) -> str:
    parts = []
    for child in inline.children or []:
        if child.type == "code_inline":
            parts.append(f"{child.markup}{child.content}{child.markup}")
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        else:
            parts.append(child.content)
    return " ".join("".join(parts).split())


def _heading_text(inline: Token) -> str:
    return _ANCHOR_RE.sub("", _strip_emoji(_plain(inline)))


def _strip_emoji(text: str) -> str:
    kept = "".join(ch for ch in text if not _is_emoji(ch))
    return " ".join(kept.split())


def _is_emoji(ch: str) -> bool:
    # "So" covers pictographs; the rest are the joiners and modifiers emoji sequences use.
    return (unicodedata.category(ch) == "So" or ch in "\ufe0e\ufe0f\u200d\u20e3"
            or "\U0001f3fb" <= ch <= "\U0001f3ff")


def _unmark(text: str) -> str:
    """Drop bold markers and one level of surrounding backticks from a field value."""
    text = _EMPHASIS_RE.sub(r"\2", text).strip()
    if len(text) > 1 and text[0] == text[-1] == "`":
        text = text.strip("`").strip()
    return text


def _field_key(name: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", _strip_emoji(name).lower()).strip("_")
    return _FIELD_ALIASES.get(key, key)


def _field_match(line: str) -> re.Match[str] | None:
    for pattern in _FIELD_RES:
        if match := pattern.fullmatch(line):
            return match
    return None


# ---------------------------------------------------------------------------------------
# Fields inside a paragraph: one `**Name**: value` per source line


@dataclass
class _Field:
    key: str
    name: str  # as written, without emoji: "Pause After"
    value: str
    line: int
    items: list[tuple[str, int]] = field(default_factory=list)  # list lines inside the paragraph


def _fields(block: _Block) -> list[_Field]:
    found: list[_Field] = []
    for offset, line in enumerate(block.lines):
        number = block.line + offset
        if match := _field_match(line):
            name = _strip_emoji(_unmark(match.group(1)))
            found.append(_Field(_field_key(name), name, match.group(2).strip(), number))
        elif found and found[-1].key in _LIST_FIELDS and (item := _ITEM_RE.fullmatch(line)):
            # `**Do**:` then `2. step` cannot start a list inside a paragraph in CommonMark.
            found[-1].items.append((item.group(1), number))
        elif found:
            found[-1].value = f"{found[-1].value} {line.strip()}".strip()
    return found


class _Sink:
    """Collects diagnostics for one file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.diagnostics: list[Diagnostic] = []

    def error(self, line: int, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.path, line, Severity.ERROR, message))

    def warning(self, line: int, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.path, line, Severity.WARNING, message))


# ---------------------------------------------------------------------------------------
# Document parts: title, header, task area


def _title(blocks: list[_Block], path: str) -> str:
    for block in blocks:
        if block.level == 1:
            return block.text
    return Path(path).stem


def _task_area(blocks: list[_Block]) -> tuple[int, int]:
    """Index of the first Phase/Task heading and of the heading that ends the task area."""
    start = next((i for i, b in enumerate(blocks) if b.kind in ("phase", "task")), len(blocks))
    level, phase_seen = None, False
    for index in range(start, len(blocks)):
        block = blocks[index]
        if block.kind == "phase" and not phase_seen:
            level, phase_seen = block.level, True
        elif block.kind == "task" and level is None:
            level = block.level
        elif block.kind == "heading" and level is not None and block.level <= level:
            return start, index
    return start, len(blocks)


def _warn_ignored_headings(blocks: list[_Block], end: int, sink: _Sink) -> None:
    if end == len(blocks):
        return
    closer = blocks[end]
    for block in blocks[end + 1:]:
        if block.kind in ("phase", "task"):
            sink.warning(block.line, f"{block.text!r} comes after the task list ended at line "
                                     f"{closer.line} ({closer.text!r}) and is ignored; move it "
                                     "above that heading")


def _read_header(blocks: list[_Block], sink: _Sink) -> Header:
    values: dict[str, object] = {}
    line_of: dict[str, int] = {}
    for block in blocks:
        if block.kind != "paragraph":
            continue
        for item in _fields(block):
            if item.key in line_of:
                continue  # the first value wins, as for task fields
            line_of[item.key] = item.line
            reader = _HEADER_READERS.get(item.key)
            if reader is not None:
                _apply(reader, item, values, sink, "the header")
    total = values.pop("total_tasks", (None, None))
    assert isinstance(total, tuple)
    return Header(total_tasks=total[0], total_phases=total[1], line_of=MappingProxyType(line_of),
                  estimated_hours=parse_hours(_as_str(values.get("estimated_time"))),
                  **values)  # type: ignore[arg-type]


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _apply(reader: Callable[[str], object], item: _Field, into: dict[str, object], sink: _Sink,
           owner: str) -> None:
    try:
        into[item.key] = reader(item.value)
    except _Unreadable as exc:
        sink.error(item.line, f"{owner}: **{item.name}** value {item.value!r} cannot be read; {exc}")


# ---------------------------------------------------------------------------------------
# Field readers


def _read_bool(value: str) -> bool:
    match = _BOOL_RE.fullmatch(_unmark(value))
    if not match:
        raise _Unreadable("write yes or no (a note in parentheses may follow)")
    return match.group(1).lower() in ("yes", "true")


def _read_status(value: str) -> str:
    match = _STATUS_RE.fullmatch(_unmark(value))
    if not match:
        raise _Unreadable("write [ ] (to do), [x] (done) or [!] (blocked)")
    return (match.group(1) or " ").lower()


def _read_dependencies(value: str) -> tuple[str, ...]:
    text = re.sub(r"\([^)]*\)", "", _unmark(value).replace("`", "")).strip().rstrip(".")
    if text.lower() in ("", "none", "n/a", "-", "—"):
        return ()
    ids: list[str] = []
    for part in re.split(r",|;|&|\band\b", text, flags=re.I):
        if not part.strip():
            continue
        match = _DEP_RE.fullmatch(part.strip())
        if not match:
            raise _Unreadable("write None or task ids like Task 1.1, Task 1.2")
        ids.append(f"{int(match.group(1))}.{int(match.group(2))}")
    return tuple(dict.fromkeys(ids))


def _read_prompt(value: str) -> str:
    text = value.strip()
    for left, right in ('""', "''", "“”", "‘’"):
        if len(text) > 1 and text[0] == left and text[-1] == right:
            return text[1:-1].strip()
    return text


def _read_run(value: str) -> str:
    text = value.strip()
    if match := re.fullmatch(r"(`+)\s?(.*?)\s?\1", text, re.S):
        text = match.group(2).strip()
    if not text:
        raise _Unreadable("write **Run**: `command`")
    return text


def _read_total(value: str) -> tuple[int, int | None]:
    match = _TOTAL_RE.fullmatch(_unmark(value))
    if not match:
        raise _Unreadable("write it like 10 tasks across 5 phases")
    phases = match.group(2)
    return int(match.group(1)), int(phases) if phases else None


_TASK_READERS: dict[str, Callable[[str], object]] = {
    "priority": _unmark,
    "estimated_time": _unmark,
    "dependencies": _read_dependencies,
    "status": _read_status,
    "auto_advance": _read_bool,
    "pause_after": _read_bool,
    "when_ready_prompt": _read_prompt,
    "run": _read_run,
}
_TASK_ATTRIBUTES = {"status": "status_mark"}
_HEADER_READERS: dict[str, Callable[[str], object]] = {
    "project": _unmark,
    "total_tasks": _read_total,
    "estimated_time": _unmark,
    "auto_advance": _read_bool,
    "pause_after": _read_bool,
}


# ---------------------------------------------------------------------------------------
# Task area: phases and tasks


@dataclass
class _Draft:
    id: str
    title: str
    phase: int
    line: int
    implicit: bool = False
    fields: dict[str, _Field] = field(default_factory=dict)
    do: list[str] = field(default_factory=list)
    done_when: list[Criterion] = field(default_factory=list)


@dataclass
class _PhaseDraft:
    number: int
    title: str
    line: int
    synthetic: bool = False  # made for tasks that have no Phase heading above them
    task_ids: list[str] = field(default_factory=list)


class _TaskWalker:
    """Walks the task-area blocks in order, building phase and task drafts."""

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self.phases: dict[int, _PhaseDraft] = {}
        self.drafts: list[_Draft] = []
        self.phase: int | None = None
        self.task: _Draft | None = None
        self.pending: _Field | None = None  # a Do/Done-when field waiting for its list

    def visit(self, block: _Block) -> None:
        pending, self.pending = self.pending, None
        if block.kind == "phase":
            self._phase(block)
        elif block.kind == "task":
            self._task(block)
        elif block.kind == "paragraph":
            self._paragraph(block)
        elif block.kind == "list" and pending is not None and self.task is not None:
            self._list(pending.key, [(i.text, i.line) for i in block.items])

    def _phase(self, block: _Block) -> None:
        number, self.task = int(block.key), None
        self.phase = number
        known = self.phases.get(number)
        if known is None:
            self.phases[number] = _PhaseDraft(number, block.title, block.line)
        elif known.synthetic:
            known.title, known.line, known.synthetic = block.title, block.line, False
        else:
            self.sink.warning(block.line, f"Phase {number} is used twice (lines {known.line} and "
                                          f"{block.line}); its tasks are read as one phase titled "
                                          f"{known.title!r}; renumber or merge the phases")

    def _task(self, block: _Block) -> None:
        number = self.phase
        if number is None:
            number = int(block.key.split(".")[0])
            if number not in self.phases:
                self.phases[number] = _PhaseDraft(number, f"Phase {number}", block.line, True)
                self.sink.warning(block.line, f"Task {block.key} is not under a Phase heading and "
                                              f"is read as part of Phase {number}; add a "
                                              f"`Phase {number}: Title` heading above it")
        self.task = _Draft(block.key, block.title, number, block.line)
        self.drafts.append(self.task)

    def _paragraph(self, block: _Block) -> None:
        found = _fields(block)
        if self.task is None and self.phase is not None and any(f.key in _TASK_FIELDS for f in found):
            self._implicit_task(found[0].line)
        if self.task is None or not found:
            return
        for item in found:
            self._add_field(self.task, item)
        last = found[-1]
        if last.key in _LIST_FIELDS and self.task.fields.get(last.key) is last:
            self.pending = last

    def _implicit_task(self, line: int) -> None:
        phase = self.phases[self.phase]  # type: ignore[index]
        task_id = f"{phase.number}.1"
        self.sink.warning(line, f"Phase {phase.number} has a task body but no Task heading; it is "
                                f"read as Task {task_id} {phase.title!r}; add a heading like "
                                f"`Task {task_id}: {phase.title}` above line {line}")
        self.task = _Draft(task_id, phase.title, phase.number, line, implicit=True)
        self.drafts.append(self.task)

    def _add_field(self, task: _Draft, item: _Field) -> None:
        earlier = task.fields.get(item.key)
        if earlier is not None:
            self.sink.warning(item.line, f"Task {task.id} sets **{item.name}** twice (lines "
                                         f"{earlier.line} and {item.line}); the first one is used; "
                                         "delete the other")
            return
        task.fields[item.key] = item
        if item.key in _LIST_FIELDS:
            inline = [(item.value, item.line)] if item.value else []
            self._list(item.key, inline + item.items)

    def _list(self, key: str, items: list[tuple[str, int]]) -> None:
        assert self.task is not None
        for text, line in items:
            if key == "do":
                self.task.do.append(_EMPHASIS_RE.sub(r"\2", text))
            else:
                self.task.done_when.append(_criterion(text, line))


def _criterion(text: str, line: int) -> Criterion:
    text = _EMPHASIS_RE.sub(r"\2", text)
    if match := _CHECKBOX_RE.fullmatch(text):
        return Criterion(match.group(2).strip(), line, match.group(1).lower() == "x")
    return Criterion(text.strip(), line)


def _read_tasks(blocks: list[_Block], sink: _Sink) -> tuple[tuple[Phase, ...], dict[str, Task]]:
    walker = _TaskWalker(sink)
    for block in blocks:
        walker.visit(block)
    tasks: dict[str, Task] = {}
    for draft in walker.drafts:
        first = tasks.get(draft.id)
        if first is not None:
            sink.error(draft.line, f"duplicate task id {draft.id}: Task {draft.id} is defined at "
                                   f"line {first.line} and again at line {draft.line}; give one of "
                                   "them a new id (this one is ignored)")
            continue
        tasks[draft.id] = _task(draft, sink)
        walker.phases[draft.phase].task_ids.append(draft.id)
    phases = tuple(Phase(p.number, p.title, p.line, tuple(p.task_ids)) for p in walker.phases.values())
    return phases, tasks


def _task(draft: _Draft, sink: _Sink) -> Task:
    values: dict[str, object] = {}
    for key, item in draft.fields.items():
        reader = _TASK_READERS.get(key)
        if reader is not None:
            _apply(reader, item, values, sink, f"Task {draft.id}")
    attributes = {_TASK_ATTRIBUTES.get(key, key): value for key, value in values.items()}
    return Task(
        id=draft.id, title=draft.title, phase=draft.phase, line=draft.line,
        do=tuple(draft.do), done_when=tuple(draft.done_when), implicit=draft.implicit,
        field_lines=MappingProxyType({key: item.line for key, item in draft.fields.items()}),
        **attributes,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------------------------------
# Sections outside the task area: Current State, HotFix template, Quality Gates, Safety Rules


@dataclass
class _Section:
    heading: _Block
    blocks: list[_Block]  # everything up to the next heading of the same or a higher level
    last_line: int


def _sections(blocks: list[_Block], start: int, end: int, line_count: int) -> list[_Section]:
    found = []
    for low, high in ((0, start), (end, len(blocks))):
        last_line = blocks[high].line - 1 if high < len(blocks) else line_count
        for index in range(low, high):
            heading = blocks[index]
            if heading.kind == "paragraph" or heading.level == 0:
                continue
            stop = next((j for j in range(index + 1, high) if 0 < blocks[j].level <= heading.level),
                        high)
            stop_line = blocks[stop].line - 1 if stop < high else last_line
            found.append(_Section(heading, blocks[index + 1:stop], stop_line))
    return found


def _read_sections(blocks: list[_Block], start: int, end: int, lines: list[str],
                   sink: _Sink) -> dict[str, object]:
    extras: dict[str, object] = {}
    safety: dict[str, object] = {}
    for section in _sections(blocks, start, end, len(lines)):
        name = section.heading.text.lower()
        if "current state" in name and "initial_state" not in extras:
            extras.update(_read_state(section, sink))
        elif "hotfix" in name and "hotfix_template" not in extras:
            extras["hotfix_template"] = _read_hotfix(section, lines)
        elif "quality gates" in name and "quality_gates" not in extras:
            extras["quality_gates"] = tuple(_gate_name(i) for i in _items(section))
        elif "safety rules" in name:
            safety.update(_read_safety(section, sink))
        elif "human checkpoints" in name:
            if any("critical priority" in i.text.lower() for i in _items(section)):
                safety["critical_needs_person"] = True
    if safety:
        extras["safety"] = SafetyRules(**safety)  # type: ignore[arg-type]
    return extras


def _items(section: _Section) -> list[_Item]:
    return [item for block in section.blocks if block.kind == "list" for item in block.items]


def _read_state(section: _Section, sink: _Sink) -> dict[str, object]:
    fence = next((b for b in section.blocks if b.kind == "fence"
                  and (b.info.lower().startswith("json") or b.raw.lstrip().startswith("{"))), None)
    if fence is None:
        return {}
    where = {"initial_state_line": fence.line}
    try:
        data = json.loads(fence.raw)
    except json.JSONDecodeError as exc:
        sink.error(min(fence.line + exc.lineno, fence.end), f"the Current State block is not valid "
                   f"JSON ({exc.msg}, line {exc.lineno} column {exc.colno} of the block); fix it")
        return where
    except (ValueError, RecursionError) as exc:  # huge numbers, absurd nesting
        sink.error(fence.line, f"the Current State block cannot be read as JSON ({exc}); fix it")
        return where
    if not isinstance(data, dict):
        sink.error(fence.line, "the Current State block must be a JSON object ({...}); fix it")
        return where
    return {**where, "initial_state": data,
            "initial_state_lines": MappingProxyType(_key_lines(fence.raw, fence.line + 1))}


def _key_lines(source: str, first_line: int) -> dict[str, int]:
    """Line of each top-level key of a valid JSON object."""
    found: dict[str, int] = {}
    depth, line, index = 0, first_line, 0
    while index < len(source):
        char = source[index]
        if char == "\n":
            line += 1
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        elif char == '"':
            close = _string_end(source, index)
            if depth == 1 and _COLON_RE.match(source, close + 1):
                found.setdefault(json.loads(source[index:close + 1]), line)
            index = close
        index += 1
    return found


def _string_end(source: str, index: int) -> int:
    index += 1
    while index < len(source) and source[index] != '"':
        index += 2 if source[index] == "\\" else 1
    return index


def _read_hotfix(section: _Section, lines: list[str]) -> HotFixTemplate:
    headings = [b for b in section.blocks if b.level > 0]
    template = next((b for b in headings if "hotfix" in b.text.lower()), section.heading)
    after = [b for b in headings if b.line > template.line and b.level <= template.level]
    last = after[0].line - 1 if after else section.last_line
    body = "\n".join(lines[template.end:last]).strip("\n")
    return HotFixTemplate(heading=template.raw, body=body, line=template.line)


def _gate_name(item: _Item) -> str:
    bold = re.match(r"\s*(?:\[[ xX]?\]\s*)?\*\*(.+?)\*\*", item.raw)
    if bold:
        return _unmark(bold.group(1))
    text = _CHECKBOX_RE.fullmatch(item.text)
    plain = text.group(2) if text else item.text
    return re.split(r"\s+-\s+|:", plain, maxsplit=1)[0].strip()


def _read_safety(section: _Section, sink: _Sink) -> dict[str, object]:
    rules: dict[str, object] = {}
    keywords: list[str] = []
    for item in _items(section):
        match = _field_match(item.raw.split("\n")[0])
        if not match:
            continue
        name, value = _strip_emoji(_unmark(match.group(1))), match.group(2).lower()
        if "consecutive failure" in name.lower() and (count := re.search(r"[0-9]{1,6}", value)):
            if int(count.group(0)) >= 1:
                rules["max_consecutive_failures"] = int(count.group(0))
            else:
                sink.warning(item.line, f"**{name}** must allow at least 1 failure; the default "
                                        "of 2 is used; write a number of 1 or more")
        elif "always pause" in value and name.split():
            keywords.append(_keyword(name))
        elif "human checkpoint" in name.lower() and "critical priority" in value:
            rules["critical_needs_person"] = True
    if keywords:
        rules["pause_keywords"] = tuple(dict.fromkeys(keywords))
    return rules


def _keyword(name: str) -> str:
    """Keyword from a rule's name: Database Changes -> database, Deployment Scripts -> deploy."""
    word = name.split()[0].lower()
    if word.endswith("ment") and len(word) > 4:
        return word[:-4]
    if word.endswith("s") and len(word) > 1:
        return word[:-1]
    return word
