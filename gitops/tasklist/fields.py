"""`**Name**: value` fields: finding them in a paragraph and reading their values."""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from gitops.tasklist.diagnostics import Sink
from gitops.tasklist.text import strip_emoji, unbold, unmark

# `**Name**: value` and `**Name:** value`
_FIELD_RES = (
    re.compile(r"\s*\*\*([^*]+?)\*\*\s*:\s*(.*)"),
    re.compile(r"\s*\*\*([^*]+?):\*\*\s*(.*)"),
)
_ITEM_RE = re.compile(r"\s*(?:[0-9]{1,9}[.)]|[-*+])\s+(.*)")
_BOOL_RE = re.compile(r"(yes|no|true|false)(?:\s*(?:\(.*\)|[-–—,;:].*))?\.?", re.I | re.S)
_STATUS_RE = re.compile(r"\[([ xX!✅]?)\](.*)", re.S)
_STATUS_WORDS = (
    ("x", re.compile(r"(?:completed?|done|finished)\b", re.I)),
    (" ", re.compile(r"(?:pending|not\s+started|to\s*do|open|planned|in\s+progress|started)\b", re.I)),
    ("!", re.compile(r"blocked\b", re.I)),
    ("-", re.compile(r"(?:skipped|deferred|cancell?ed|won'?t\s+do)\b", re.I)),
)
_UNSET = ("", "-", "—", "–", "n/a", "N/A", "tbd", "TBD")
_HOURS_RE = re.compile(r"([0-9]{1,6}(?:\.[0-9]{1,6})?)\s*(hours?|hrs?|h|minutes?|mins?|m)\b\s*(?:and\s*)?", re.I)

# Criteria besides Done when that a task may list: kept apart, each with its kind.
FURTHER_CRITERIA = ("quality_gates", "testing_requirements", "testing", "ci_gates")
# fields whose value is a list of steps or criteria (Description: steps when there are no others)
LIST_FIELDS = ("do", "done_when", "description", *FURTHER_CRITERIA)
# The names people give the engine's fields, by the key the engine reads.
_SYNONYMS = {
    "dependencies": ("depends_on", "dependency", "prerequisites", "blocked_by"),
    "estimated_time": ("time", "duration", "estimate", "estimated_duration", "estimated_effort",
                       "effort", "time_estimate"),
    "done_when": ("acceptance_criteria", "success_criteria", "definition_of_done", "done_criteria"),
    "do": ("steps", "execution_steps", "subtasks", "implementation_steps", "implementation_details",
           "commands", "action_items"),
    "testing": ("tests",),
    # MoSCoW written as its own field: its value (Must, Should, Could, Won't) is the priority.
    "priority": ("moscow", "moscow_priority"),
    # Asking for a pause is a checkpoint whatever it is called: reading "Smart Pause: yes" as
    # nothing would run on past a review its author wanted.
    "pause_after": ("smart_pause", "pause", "pause_for_review"),
}
_FIELD_ALIASES = {alias: key for key, aliases in _SYNONYMS.items() for alias in aliases}

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
    # Source lines the field was read from (first, last), its list included: what `gitops fmt`
    # rewrites; the lines of a task that no field claims are kept as written.
    source: list[tuple[int, int]] = field(default_factory=list)


def split_field(line: str) -> tuple[str, str] | None:
    """Name (without emoji or bold) and raw value of a `**Name**: value` line, else None."""
    for pattern in _FIELD_RES:
        if match := pattern.fullmatch(line):
            return strip_emoji(unmark(match.group(1))), match.group(2)
    return None


def split_fields(line: str) -> list[tuple[str, str]]:
    """The fields of one line: `**Name**: value`, or several joined by `|`; [] when it is not that."""
    if parts := split_field(line):
        joined = [split_field(part) for part in line.split("|")] if "|" in line else []
        if len(joined) > 1 and all(joined):
            return [part for part in joined if part is not None]
        return [parts]
    return []


def read_fields(lines: list[str], first_line: int) -> list[Field]:
    """The fields of a paragraph, one `**Name**: value` (or several joined by `|`) per source line."""
    found: list[Field] = []
    for number, line in enumerate(lines, first_line):
        if parts := split_fields(line):
            found.extend(Field(field_key(name), name, value.strip(), number) for name, value in parts)
        elif found and found[-1].key in LIST_FIELDS and (item := _ITEM_RE.fullmatch(line)):
            # `**Do**:` then `2. step` cannot start a list inside a paragraph in CommonMark.
            found[-1].items.append((item.group(1), number))
        elif found:
            found[-1].value = f"{found[-1].value} {line.strip()}".strip()
    # Each field runs to the line before the next field's (its continuation and items included).
    starts = sorted({item.line for item in found})
    last = first_line + len(lines) - 1
    for item in found:
        after = bisect.bisect_right(starts, item.line)
        item.source.append((item.line, starts[after] - 1 if after < len(starts) else last))
    return found


def name_key(name: str) -> str:
    """A field's name as written, as a key: "Pause After" -> "pause_after"."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def field_key(name: str) -> str:
    """The key the engine reads a field by: synonyms ("Acceptance Criteria") as theirs ("done_when")."""
    key = name_key(name)
    return _FIELD_ALIASES.get(key, key)


def read_values(readers: Mapping[str, Reader], items: Iterable[Field], sink: Sink,
                owner: str) -> dict[str, object]:
    """Each field that has a reader, read; an unreadable value is left out, as if not written, with
    a warning (an error with `--strict`): a run need not stop for it."""
    values: dict[str, object] = {}
    for item in items:
        reader = readers.get(item.key)
        if reader is None:
            continue
        try:
            values[item.key] = reader(item.value)
        except Unreadable as exc:
            sink.tolerated(item.line, f"{owner}: **{item.name}** value {item.value!r} cannot be read "
                                      f"and is left out, as if not written; {exc}")
    return values


# ---------------------------------------------------------------------------------------
# Value readers: raise Unreadable with the accepted forms


def read_bool(value: str) -> bool | None:
    """yes/no/true/false, optionally followed by a note; None for a dash (not decided here)."""
    if unmark(value).strip() in _UNSET:
        return None
    match = _BOOL_RE.fullmatch(unmark(value))
    if not match:
        raise Unreadable("write yes or no (a note in parentheses may follow)")
    return match.group(1).lower() in ("yes", "true")


def read_status(value: str) -> str:
    """The mark of `[ ]`, `[x]`, `[✅]` or `[!]`, or of a status word (`✅ Completed`, `⏳ Pending`,
    `⏸️ Deferred`): " " to do, "x" done, "!" blocked, "-" skipped or deferred."""
    text = unmark(value)
    if match := _STATUS_RE.fullmatch(text):
        mark = (match.group(1) or " ").lower()
        return "x" if mark == "✅" else mark
    words = strip_emoji(unbold(text))
    if not words and any(mark in text for mark in "✅✔☑"):
        return "x"
    for mark, pattern in _STATUS_WORDS:
        if pattern.match(words):
            return mark
    raise Unreadable("write [ ] (to do), [x] (done) or [!] (blocked)")


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
