"""Which headings are phases and which are tasks, in the shapes people write them.

Tasks: `Task 1.1: Title`, `Task 1: Title`, `Task A1: Title`, `Task T-1: Title`, `T-1.1: Title`,
`T-1.1 Title`, `T1 — Title`, bold or not, with a status marker after the title
(`✅ **COMPLETED**`, `⏳`). Phases: `Phase 1: Title`, `Phase 1 — Title`, `Phase 1 (P0)`, with
emoji or bold around them; but `Phase 1 Quality Gates` or `Phase 2 Execution Strategy` is a
section about a phase, not a phase.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from gitops.tasklist.ids import END, ID, normalise

_SEPARATOR = r"(?:\s*[:.\-–—|]\s*|\s+|$)"
_MARK = r"\s*[:.\-–—|]\s*|$"  # a separator that is not only a space
# With the word Task any id form; without it only `T-1.1`, `T-1`, `T1`: a bare `1.1 Overview` or
# `A1 Goals` is document numbering far more often than a task. `T1 Results` (no separator) is a
# heading too; `T-1.1 Title` is the one bare form people write without one.
_TASK_RE = re.compile(rf"(?:(?i:task)\s+(?P<id>{ID}){END}(?:{_SEPARATOR})|"
                      rf"(?P<bare>T-?[0-9]{{1,9}}(?:\.[0-9]{{1,9}})?){END}(?:{_MARK})|"
                      rf"(?P<dashed>T-[0-9]{{1,9}}(?:\.[0-9]{{1,9}})?){END}\s+)(?P<title>.*)", re.S)
_PHASE_RE = re.compile(r"(?i:phase)\s+(?P<number>[0-9]{1,9})(?!\.?[0-9])"
                       r"(?:\s*[:.\-–—|]\s*(?P<title>.*)|(?P<rest>\s*\(.*|\s+.*)|)", re.S)
# `Phase N <words>` without a separator that names a section about the phase.
_NOT_A_PHASE_RE = re.compile(
    r"\s*(?:quality\s+gates?|execution\s+strategy|exit\s+criteria|entry\s+criteria|success\s+criteria|"
    r"acceptance\s+criteria|completion|summary|checklist|review|retrospective|deliverables|"
    r"validation|notes|risks|dependencies|overview|goals|status)\b", re.I)
_STATUS_WORDS = r"completed?|done|finished|in\s+progress|pending|not\s+started|skipped|deferred|blocked"
# A status after the title: `[x]`, `(Done)`, `- COMPLETED`, or a status word in capitals.
_MARKER_RE = re.compile(rf"\s*(?:[-–—|:]\s*)?(?:\[(?P<box>[ xX✅]?)\]|\((?P<paren>(?i:{_STATUS_WORDS}))\)|"
                        r"(?P<caps>COMPLETED?|DONE|FINISHED|IN PROGRESS|PENDING|NOT STARTED|SKIPPED|DEFERRED|"
                        r"BLOCKED))\s*$")
_DONE_MARKS = "✅✔☑"
_SKIP_MARKS = "⏸"


@dataclass(frozen=True)
class TaskHeading:
    task_id: str
    title: str
    status_mark: str | None  # "x" done, "-" skipped or deferred, " " to do; None: no marker


@dataclass(frozen=True)
class PhaseHeading:
    number: int
    title: str


def task_heading(text: str, raw: str) -> TaskHeading | None:
    """A task heading from its plain text (no emoji, no emphasis) and its Markdown source."""
    match = _TASK_RE.fullmatch(text)
    if match is None:
        return None
    task_id = normalise(match.group("id") or match.group("bare") or match.group("dashed"))
    title, mark = _without_marker(match.group("title").strip())
    # An emoji status (✅, ⏸️) is gone from the plain text; read it from the source.
    if any(ch in raw for ch in _DONE_MARKS):
        mark = "x"
    elif any(ch in raw for ch in _SKIP_MARKS):
        mark = "-"
    return TaskHeading(task_id, title or f"Task {task_id}", mark)


def phase_heading(text: str) -> PhaseHeading | None:
    """A phase heading from its plain text, or None (also for `Phase 1 Quality Gates`)."""
    match = _PHASE_RE.fullmatch(text)
    if match is None:
        return None
    number = int(match.group("number"))
    rest = match.group("rest")
    if rest is not None and _NOT_A_PHASE_RE.match(rest):
        return None
    title = (match.group("title") or "").strip() or (rest or "").strip()
    if rest is not None and rest.lstrip().startswith("("):
        title = f"Phase {number} {rest.strip()}"
    return PhaseHeading(number, title or f"Phase {number}")


def _without_marker(title: str) -> tuple[str, str | None]:
    match = _MARKER_RE.search(title)
    if match is None or not title[:match.start()].strip():
        return title, None
    word = (match.group("box") or match.group("paren") or match.group("caps") or "").lower()
    if word in ("x", "✅") or word.startswith(("complete", "done", "finish")):
        mark = "x"
    elif word.startswith(("skip", "defer")):
        mark = "-"
    else:
        mark = " "
    return title[:match.start()].strip(), mark
