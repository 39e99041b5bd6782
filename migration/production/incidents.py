"""Firing alerts become forge issues; resolved ones close them (what an Alertmanager webhook receiver does).

Prometheus evaluates the rules (deploy/alerts.yml); this only reads its `/api/v1/alerts` and keeps
one issue per alert and release, found again by its hidden marker, so a re-run opens nothing twice.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gitops.forge.incidents import IssueWriter

LABELS = ("incident", "production")


@dataclass(frozen=True)
class Alert:
    name: str
    release: str
    state: str  # pending or firing
    summary: str
    active_at: str

    @property
    def marker(self) -> str:
        return f"alert:{self.name}:{self.release}"


def firing(alerts: Iterable[dict]) -> list[Alert]:
    """The firing alerts of Prometheus' /api/v1/alerts answer."""
    out = []
    for item in alerts:
        labels, annotations = item.get("labels", {}), item.get("annotations", {})
        if item.get("state") == "firing":
            out.append(Alert(labels.get("alertname", "?"), labels.get("release") or labels.get("deployment", "?"),
                             "firing", annotations.get("summary", ""), item.get("activeAt", "")))
    return out


def open_issues(alerts: Iterable[Alert], forge: IssueWriter, prometheus_url: str) -> dict[str, str]:
    """One issue per firing alert (idempotent by marker); marker -> where the issue is."""
    opened = {}
    for alert in alerts:
        body = (f"Prometheus ({prometheus_url}) reports **{alert.name}** firing for release `{alert.release}` "
                f"since {alert.active_at}: {alert.summary}.\n\nSee {prometheus_url}/alerts. The issue closes "
                f"when the alert resolves.")
        opened[alert.marker] = forge.open_issue(alert.marker, f"{alert.name}: {alert.release}", body, list(LABELS))
    return opened


def close_resolved(markers: Iterable[str], still_firing: Iterable[Alert], forge: IssueWriter, when: str) -> list[str]:
    """Close the issues of `markers` whose alert no longer fires; returns the ones closed."""
    live = {a.marker for a in still_firing}
    closed = [m for m in markers if m not in live]
    for marker in closed:
        forge.close_issue(marker, f"resolved: Prometheus no longer reports the alert firing ({when})")
    return closed
