"""Values of the definition: gate ids and project names."""
from __future__ import annotations

import pytest

from gitops.model import Gate, GateKind, project_slug


@pytest.mark.parametrize(
    ("text", "kind", "subject"),
    [
        ("1.1", GateKind.CHECKPOINT, "1.1"),
        ("T-1.1", GateKind.CHECKPOINT, "T-1.1"),
        ("phase-2", GateKind.PHASE, "2"),
        ("deploy-6.1", GateKind.DEPLOY, "6.1"),
        ("phase-x", GateKind.CHECKPOINT, "phase-x"),  # not a phase number: a task could be named so
        ("deploy-", GateKind.CHECKPOINT, "deploy-"),
    ],
)
def test_a_gate_id_parses_and_prints_back(text: str, kind: GateKind, subject: str) -> None:
    gate = Gate.parse(text)
    assert (gate.kind, gate.subject, str(gate)) == (kind, subject, text)


def test_gate_constructors_and_the_phase_number() -> None:
    assert [Gate.checkpoint("1.2").id, Gate.phase(3).id, Gate.deploy("6.1").id] == ["1.2", "phase-3", "deploy-6.1"]
    assert Gate.parse("phase-3").phase_number == 3
    with pytest.raises(ValueError, match="deploy-6.1 is not a phase gate"):
        Gate.parse("deploy-6.1").phase_number


@pytest.mark.parametrize(
    ("path", "slug"),
    [("migration/B-1006.md", "b-1006"), ("lists/My Plan.md", "my-plan"), ("!!!.md", "tasklist")],
)
def test_project_slug(path: str, slug: str) -> None:
    assert project_slug(path) == slug
