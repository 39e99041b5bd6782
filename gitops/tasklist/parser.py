"""Read a process task list (Markdown) into a TaskList, reporting problems as diagnostics.

The parts live beside this module: `markdown` (blocks with line numbers), `fields`
(`**Name**: value` and value readers), `header`, `tasks` (the task area) and `sections`.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from gitops.errors import TaskListError
from gitops.model import Diagnostic, Severity, TaskList
from gitops.safe_files import MIB, NotRegular, read_regular
from gitops.tasklist.diagnostics import Sink
from gitops.tasklist.header import read_header
from gitops.tasklist.markdown import Block, read_blocks
from gitops.tasklist.sections import read_sections
from gitops.tasklist.task_area import TaskWalker, read_tasks, task_area, warn_ignored_headings


@dataclass(frozen=True)
class Document:
    """A parsed task list with what it was read from (`gitops fmt` rewrites from these)."""

    tasklist: TaskList
    diagnostics: list[Diagnostic]
    blocks: list[Block]
    lines: list[str]
    area: tuple[int, int]  # indexes of the first task-area block and of the block that ends it
    walker: TaskWalker  # the phase and task drafts, with the source lines of their fields


def parse(text: str, path: str) -> tuple[TaskList, list[Diagnostic]]:
    """Parse task-list Markdown; never raises, problems come back as diagnostics."""
    document = read_document(text, path)
    return document.tasklist, document.diagnostics


def read_document(text: str, path: str) -> Document:
    """`parse`, keeping the blocks and drafts it read."""
    blocks, lines = read_blocks(text)
    sink = Sink(path)
    start, end = task_area(blocks)
    if start == len(blocks):
        sink.error(1, NO_TASKS)
    header = read_header(blocks[:start], sink)
    phases, tasks, walker = read_tasks(blocks[start:end], sink)
    warn_ignored_headings(blocks, end, sink)
    extras = read_sections(blocks, start, end, lines, sink)
    tasklist = TaskList(
        path=path,
        title=_title(blocks, path),
        header=header,
        phases=phases,
        tasks=MappingProxyType(tasks),
        sha256=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        **extras,  # type: ignore[arg-type]
    )
    diagnostics = sorted(sink.diagnostics, key=lambda d: (d.line, d.severity != Severity.ERROR))
    return Document(tasklist, diagnostics, blocks, lines, (start, end), walker)


# B-1006, the largest task list there is, is ~100 KB; the cap keeps /dev/zero from filling memory.
TASKLIST_LIMIT = 16 * MIB


def load(path: str | Path) -> tuple[TaskList, list[Diagnostic]]:
    """Read and parse a task-list file; raises TaskListError when it cannot be used at all."""
    name = str(path)
    data = _read_bytes(Path(path), name)
    tasklist, diagnostics = parse(_decode(data, name), name)
    if not tasklist.tasks:
        raise TaskListError(no_tasks(name))
    return replace(tasklist, sha256=hashlib.sha256(data).hexdigest()), diagnostics


# Templates and guides have no tasks (12 of the 139 task lists of the issue 13 survey): say what
# was looked for and what to do, rather than only "no tasks".
NO_TASKS = ("no tasks found: gitops looks for task headings (`#### Task 1.1: Title`, `#### T-1.1: Title`, "
            "`#### Task A1: Title`, under `### Phase 1: Title` headings) and tasks written as list items "
            "(`- **Task 1.1**: Title`). A template or a guide has nothing to run; to run this file, give "
            "each task a heading like those, with its `**Done when**:` criteria")


def no_tasks(name: str) -> str:
    """What to say of a file with no tasks (`load` and `gitops fmt` refuse it)."""
    return f"{name}: {NO_TASKS}"


def read_source(path: str | Path) -> tuple[bytes, str]:
    """A task-list file's bytes and its text; raises TaskListError when it cannot be read as text."""
    data = _read_bytes(Path(path), str(path))
    return data, _decode(data, str(path))


def _title(blocks: list[Block], path: str) -> str:
    for block in blocks:
        if block.level == 1:
            return block.text
    return Path(path).stem


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
        return read_regular(path, TASKLIST_LIMIT)
    except NotRegular as exc:
        if exc.what.startswith("is a directory"):
            raise TaskListError(f"{name}: is a directory; pass the task list's Markdown file "
                                "inside it") from None
        raise TaskListError(f"{name}: {exc.what}; pass the task list's Markdown file") from None
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
