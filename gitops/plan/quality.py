"""Quality gates, computed from recorded evidence (check results and approvals), never set by hand."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from gitops.model import CheckStatus, TaskList

DEFAULT_GATES = (
    "Code Review Completed",
    "Tests Passing",
    "Documentation Updated",
    "Performance Validated",
    "Security Reviewed",
    "User Acceptance",
    "Resilience Tested",
    "Edge Cases Covered",
)
# The evidence behind each gate: Done-when criteria whose text holds one of these stems.
EVIDENCE = {
    "test": ("test",),
    "document": ("document",),
    "performance": ("performance", "benchmark"),
    "security": ("security", "access control"),
    "acceptance": ("acceptance", "validated in production"),
    "resilience": ("resilien", "rollback", "circuit breaker", "retries"),
    "edge case": ("edge case", "boundary"),
}


@dataclass(frozen=True)
class QualityGate:
    name: str
    status: str  # met | failing | in progress | no evidence
    evidence: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "evidence": self.evidence}


def quality_gates(tasklist: TaskList, state: Mapping[str, Any]) -> list[QualityGate]:
    return [_gate(name, tasklist, state) for name in (tasklist.quality_gates or DEFAULT_GATES)]


def _gate(name: str, tasklist: TaskList, state: Mapping[str, Any]) -> QualityGate:
    lowered = name.lower()
    if "review" in lowered and "code" in lowered:
        return _reviews(name, state)
    stems = next((v for k, v in EVIDENCE.items() if k in lowered), (lowered.split()[0],))
    criteria = [
        (task.id, c.text)
        for task in tasklist.tasks.values()
        for c in task.done_when
        if any(stem in c.text.lower() for stem in stems)
    ]
    if not criteria:
        return QualityGate(name, "no evidence", "no Done-when criterion covers it")
    results = {(t, c["criterion"]): c for t in tasklist.tasks for c in state["tasks"][t]["checks"]}
    found = [results.get(key) for key in criteria]
    failed = [key for key, r in zip(criteria, found) if r and r["status"] == CheckStatus.FAILED.value]
    if failed:
        return QualityGate(name, "failing", "; ".join(f"Task {t}: {c}" for t, c in failed))
    met = [r for r in found if r and _met(r)]
    summary = f"{len(met)}/{len(criteria)} criteria met"
    return QualityGate(name, "met" if len(met) == len(criteria) else "in progress", summary)


def _met(check: Mapping[str, Any]) -> bool:
    if check["status"] == CheckStatus.MANUAL.value:
        return bool(check.get("approved_by"))
    return check["status"] in (CheckStatus.PASSED.value, CheckStatus.SKIPPED.value)


def _reviews(name: str, state: Mapping[str, Any]) -> QualityGate:
    """Every checkpoint reached so far approved by a person (not --auto-approve)."""
    gates = state["gates"]
    if not gates:
        return QualityGate(name, "no evidence", "no checkpoint reached yet")
    by_person = [g for g, r in gates.items() if r["status"] == "approved" and "--auto-approve" not in (r["approved_by"] or "")]
    status = "met" if len(by_person) == len(gates) else "in progress"
    return QualityGate(name, status, f"{len(by_person)}/{len(gates)} checkpoints approved by a person")
