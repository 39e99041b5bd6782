"""Incidents a task reports, opened as forge issues by the engine (on GitHub, by the recording job).

Task code holds no write token on GitHub (docs/github.md, *What task code can reach*), so a handler
does not open an issue itself: it reports the incident (`IncidentLog`, an IssueWriter that only
collects), the task job hands the incidents over as data (gitops.run.handover), and the job that
holds `issues: write` opens each through its forge (`open_all`), found again by its hidden marker,
and closes it with a comment when the incident says it resolved. A re-run opens nothing twice:
every forge finds the issue of a marker before it opens one (gitops.forge.base.Forge).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol, Sequence

from gitops.redact import Redactor

# Bounds on what task code may ask the recording job to write (it is untrusted data).
MAX_INCIDENTS = 20
MAX_MARKER, MAX_TITLE, MAX_TEXT, MAX_LABEL, MAX_LABELS = 200, 256, 20_000, 50, 10
_KEYS = {"marker", "title", "body", "labels", "resolved"}


class IssueWriter(Protocol):
    """The part of gitops.forge.base.Forge that opens and closes issues."""

    def open_issue(self, marker: str, title: str, body: str, labels: Sequence[str]) -> str: ...

    def close_issue(self, marker: str, comment: str) -> None: ...


@dataclass(frozen=True)
class Incident:
    """An issue to open (marker-named) and, when `resolved` holds the closing comment, to close."""

    marker: str
    title: str
    body: str
    labels: tuple[str, ...]
    resolved: str | None = None


def reported_at(marker: str) -> str:
    """What a handler is told instead of an issue URL: the recording job opens it later."""
    return f"reported as incident {marker}: the recording job opens it as a forge issue"


class IncidentLog:
    """An IssueForge that records the incidents a handler reports; with `forge` (the engine's, where it
    may write: `gitops run` locally) it also opens them at once, so the handler sees where they are."""

    def __init__(self, forge: IssueWriter | None = None) -> None:
        self.forge = forge
        self._incidents: dict[str, Incident] = {}

    def open_issue(self, marker: str, title: str, body: str, labels: Sequence[str]) -> str:
        self._incidents[marker] = Incident(marker, title, body, tuple(labels))
        return self.forge.open_issue(marker, title, body, list(labels)) if self.forge else reported_at(marker)

    def close_issue(self, marker: str, comment: str) -> None:
        if marker in self._incidents:  # as a forge does: closing an issue never opened does nothing
            self._incidents[marker] = replace(self._incidents[marker], resolved=comment)
        if self.forge:
            self.forge.close_issue(marker, comment)

    @property
    def incidents(self) -> tuple[Incident, ...]:
        return tuple(self._incidents.values())


def open_all(incidents: Sequence[Incident], forge: IssueWriter) -> dict[str, str]:
    """Open (or find, by marker) each incident's issue and close the resolved ones; marker -> URL."""
    opened = {}
    for incident in incidents:
        opened[incident.marker] = forge.open_issue(incident.marker, incident.title, incident.body,
                                                   list(incident.labels))
        if incident.resolved is not None:
            forge.close_issue(incident.marker, incident.resolved)
    return opened


def redacted(incidents: Sequence[Incident], redactor: Redactor) -> tuple[Incident, ...]:
    """Every free text of the incidents with secrets masked (labels and markers too: task code wrote them)."""
    r = redactor.redact
    return tuple(Incident(r(i.marker), r(i.title), r(i.body), tuple(r(label) for label in i.labels),
                          r(i.resolved) if i.resolved is not None else None) for i in incidents)


def encode(incidents: Sequence[Incident]) -> list[dict[str, Any]]:
    return [{"marker": i.marker, "title": i.title, "body": i.body, "labels": list(i.labels), "resolved": i.resolved}
            for i in incidents]


def decode(data: list[dict[str, Any]]) -> tuple[Incident, ...]:
    """The incidents of `encode`'s data, which `problem` found none in."""
    return tuple(Incident(d["marker"], d["title"], d["body"], tuple(d["labels"]), d["resolved"]) for d in data)


def problem(data: Any) -> str | None:
    """What is wrong with handed-over incidents, or None when they are exactly what `encode` makes."""
    if not isinstance(data, list) or len(data) > MAX_INCIDENTS:
        return f"incidents is not a list of at most {MAX_INCIDENTS}"
    seen: set[str] = set()
    for item in data:
        if not isinstance(item, dict) or set(item) != _KEYS:
            return f"an incident is not an object with exactly the keys {', '.join(sorted(_KEYS))}"
        if not (_text(item["marker"], MAX_MARKER) and item["marker"].strip() and "-->" not in item["marker"]):
            return f"an incident's marker is not text of 1-{MAX_MARKER} characters (without -->)"
        if item["marker"] in seen:
            return f"the incident {item['marker']!r} is listed twice"
        seen.add(item["marker"])
        if not (_text(item["title"], MAX_TITLE) and _text(item["body"], MAX_TEXT)
                and (item["resolved"] is None or _text(item["resolved"], MAX_TEXT))):
            return (f"the incident {item['marker']!r} has no title (at most {MAX_TITLE} characters), body or "
                    f"resolved comment (text of at most {MAX_TEXT}, resolved may be null)")
        labels = item["labels"]
        if not (isinstance(labels, list) and len(labels) <= MAX_LABELS
                and all(_text(label, MAX_LABEL) and label.strip() for label in labels)):
            return f"the incident {item['marker']!r} has labels that are not at most {MAX_LABELS} short names"
    return None


def _text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit
