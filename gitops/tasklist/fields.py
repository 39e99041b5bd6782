"""`**Name**: value` fields: finding them in a paragraph and reading their values."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from gitops.tasklist.diagnostics import Sink
from gitops.tasklist.text import strip_emoji, unmark

# `**Name**: value` and `**Name:** value`
_FIELD_RES = (
    re.compile(r"\s*\*\*([^*]+?)\*\*\s*:\s*(.*)"),
    re.compile(r"\s*\*\*([^*]+?):\*\*\s*(.*)"),
)
_ITEM_RE = re.compile(r"\s*(?:[0-9]{1,9}[.)]|[-*+])\s+(.*)")
# `[0-9]{1,9}`, not `\d+`: `\d` matches other scripts' digits and int() refuses >4300 digits.
_DEP_RE = re.compile(r"(?:task\s+)?([0-9]{1,9})\.([0-9]{1,9})", re.I)
_BOOL_RE = re.compile(r"(yes|no|true|false)(?:\s*(?:\(.*\)|[-–—,;:].*))?\.?", re.I | re.S)
_STATUS_RE = re.compile(r"\[([ xX!]?)\](.*)", re.S)
_HOURS_RE = re.compile(r"([0-9]{1,6}(?:\.[0-9]{1,6})?)\s*(hours?|hrs?|h|minutes?|mins?|m)\b\s*(?:and\s*)?", re.I)

LIST_FIELDS = ("do", "done_when")  # fields whose value is a list of steps or criteria
_FIELD_ALIASES = {"depends_on": "dependencies"}

Reader = Callable[[str], object]


class Unreadable(ValueError):
    """A field value that cannot be read; the message lists the accepted values."""


@dataclass
class Field:
    key: str
    name: str  # as written, without emoji: "Pause After"
    value: str
    line: int
    items: list[tuple[str, int]] = field(default_factory=list)  # list lines inside the paragraph


def split_field(line: str) -> tuple[str, str] | None:
    """Name (without emoji or bold) and raw value of a `**Name**: value` line, else None."""
    for pattern in _FIELD_RES:
        if match := pattern.fullmatch(line):
            return strip_emoji(unmark(match.group(1))), match.group(2)
    return None


def read_fields(lines: list[str], first_line: int) -> list[Field]:
    """The fields of a paragraph, one `**Name**: value` per source line."""
    found: list[Field] = []
    for number, line in enumerate(lines, first_line):
        if parts := split_field(line):
            name, value = parts
            found.append(Field(_field_key(name), name, value.strip(), number))
        elif found and found[-1].key in LIST_FIELDS and (item := _ITEM_RE.fullmatch(line)):
            # `**Do**:` then `2. step` cannot start a list inside a paragraph in CommonMark.
            found[-1].items.append((item.group(1), number))
        elif found:
            found[-1].value = f"{found[-1].value} {line.strip()}".strip()
    return found


def _field_key(name: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return _FIELD_ALIASES.get(key, key)


def read_values(readers: Mapping[str, Reader], items: Iterable[Field], sink: Sink,
                owner: str) -> dict[str, object]:
    """Each field that has a reader, read; an unreadable value is reported and left out."""
    values: dict[str, object] = {}
    for item in items:
        reader = readers.get(item.key)
        if reader is None:
            continue
        try:
            values[item.key] = reader(item.value)
        except Unreadable as exc:
            sink.error(item.line, f"{owner}: **{item.name}** value {item.value!r} cannot be read; "
                                  f"{exc}")
    return values


# ---------------------------------------------------------------------------------------
# Value readers: raise Unreadable with the accepted forms


def read_bool(value: str) -> bool:
    """yes/no/true/false, optionally followed by a note."""
    match = _BOOL_RE.fullmatch(unmark(value))
    if not match:
        raise Unreadable("write yes or no (a note in parentheses may follow)")
    return match.group(1).lower() in ("yes", "true")


def read_status(value: str) -> str:
    """The mark of `[ ]`, `[x]` or `[!]`: " ", "x" or "!"."""
    match = _STATUS_RE.fullmatch(unmark(value))
    if not match:
        raise Unreadable("write [ ] (to do), [x] (done) or [!] (blocked)")
    return (match.group(1) or " ").lower()


def without_notes(text: str) -> str:
    """Text without its `(notes)`: what `re.sub(r"\\([^)]*\\)", "", text)` gives, in one pass
    (that regex rescans to the end from every `(` that has no `)` after it: quadratic)."""
    kept: list[str] = []
    position = 0
    while (start := text.find("(", position)) >= 0:
        end = text.find(")", start)
        if end < 0:
            break
        kept.append(text[position:start])
        position = end + 1
    kept.append(text[position:])
    return "".join(kept)


def read_dependencies(value: str) -> tuple[str, ...]:
    """Task ids from "None" or "Task 1.1, Task 1.2"; notes in parentheses are ignored."""
    text = without_notes(unmark(value).replace("`", "")).strip().rstrip(".")
    if text.lower() in ("", "none", "n/a", "-", "—"):
        return ()
    ids: list[str] = []
    for part in re.split(r",|;|&|\band\b", text, flags=re.I):
        if not part.strip():
            continue
        match = _DEP_RE.fullmatch(part.strip())
        if not match:
            raise Unreadable("write None or task ids like Task 1.1, Task 1.2")
        ids.append(f"{int(match.group(1))}.{int(match.group(2))}")
    return tuple(dict.fromkeys(ids))


def read_prompt(value: str) -> str:
    """The text, without one pair of surrounding quotes."""
    text = value.strip()
    for left, right in ('""', "''", "“”", "‘’"):
        if len(text) > 1 and text[0] == left and text[-1] == right:
            return text[1:-1].strip()
    return text


def read_run(value: str) -> str:
    """A command, without the backticks of its code span."""
    text = value.strip()
    # Counted, not matched with a backreference: `(`+)(.*?)\1` backtracks cubically on a run of
    # backticks (8 KB of them took seconds). The widest fence both ends have, as the regex chose.
    fence = min(_run_of(text, "`"), _run_of(text[::-1], "`"), len(text) // 2)
    if fence:
        text = text[fence:len(text) - fence].strip()
    if not text:
        raise Unreadable("write **Run**: `command`")
    return text


def _run_of(text: str, char: str) -> int:
    return len(text) - len(text.lstrip(char))


def parse_hours(text: str | None) -> float | None:
    """Read "2 hours", "90 minutes" or "1 hour 30 minutes" as hours; None when it is not that."""
    if not text:
        return None
    cleaned = unmark(text).strip()
    matches = list(_HOURS_RE.finditer(cleaned))
    # Non-overlapping matches that start at 0 and add up to the whole text leave no gaps.
    if not matches or matches[0].start() or sum(len(m.group(0)) for m in matches) != len(cleaned):
        return None
    total = 0.0
    for match in matches:
        amount = float(match.group(1))
        total += amount / 60 if match.group(2).lower().startswith("m") else amount
    return total
