"""Tests for gitops/tasklist/ids.py: task ids as written, their phase, ranges; gates and job ids for them."""
from __future__ import annotations

import pytest

from gitops.github.task_jobs import job_id
from gitops.model import Gate, GateKind
from gitops.tasklist.ids import Resolver, expand_range, normalise, phase_of, prefix_of


@pytest.mark.parametrize(("written", "kept"), [
    ("1.1", "1.1"), ("01.02", "1.2"), ("7", "7"), ("T-1.1", "T-1.1"), ("T-01", "T-01"), ("A1", "A1"),
])
def test_ids_are_kept_as_written_numeric_ones_as_numbers(written: str, kept: str) -> None:
    assert normalise(written) == kept


@pytest.mark.parametrize(("task_id", "phase", "prefix"), [
    ("1.2", 1, ""), ("T-3.1", 3, "T-"), ("T-3", None, "T-"), ("A1", None, "A"), ("7", None, ""),
])
def test_the_phase_and_prefix_an_id_names(task_id: str, phase: int | None, prefix: str) -> None:
    assert (phase_of(task_id), prefix_of(task_id)) == (phase, prefix)


@pytest.mark.parametrize(("first", "last", "ids"), [
    ("C1", "C3", ("C1", "C2", "C3")),
    ("T-1", "T-3", ("T-1", "T-2", "T-3")),
    ("1.1", "1.3", ("1.1", "1.2", "1.3")),
    ("T-2.1", "T-2.2", ("T-2.1", "T-2.2")),
    ("C1", "D3", None), ("1.1", "2.3", None), ("T3", "T1", None), ("T1", "T1000", None),
])
def test_ranges(first: str, last: str, ids: tuple[str, ...] | None) -> None:
    assert expand_range(first, last) == ids


def test_a_checkpoint_gate_and_a_job_id_for_a_lettered_id() -> None:
    assert Gate.parse("T-1.1") == Gate(GateKind.CHECKPOINT, "T-1.1")
    assert Gate.parse("deploy-T-6.1") == Gate(GateKind.DEPLOY, "T-6.1")
    assert Gate.checkpoint("A1").id == "A1"
    assert job_id("task", "T-1.1") == "task-T-1-1"


def test_a_reference_resolves_to_the_id_as_written_when_only_one_task_fits() -> None:
    resolver = Resolver(["T-1", "T-2", "T3", "A1", "1.1", "T-2.1"])
    assert resolver.resolve("T-1") == "T-1"  # as written
    assert resolver.resolve("T1") == "T-1"  # the dash dropped
    assert resolver.resolve("T-3") == "T3"  # the dash added
    assert resolver.resolve("2.1") == "T-2.1"  # the letters dropped
    assert resolver.resolve("1") is None  # T-1, A1: two tasks fit, none is guessed
    assert resolver.resolve("T-9") is None
    assert resolver.resolve("B-1006") is None
