"""GITOPS_FAULT: parsed strictly, and the failing share is exact, not random."""
from __future__ import annotations

import pytest

from migration.production.faults import FaultError, parse_fault


def test_no_fault_by_default() -> None:
    fault = parse_fault("")
    assert not fault.active and not any(fault.next_fails() for _ in range(10))


@pytest.mark.parametrize(("share", "failures"), [(0.1, 10), (0.25, 25), (1.0, 100)])
def test_the_share_of_failures_is_exact(share: float, failures: int) -> None:
    fault = parse_fault(f"error={share}")
    assert sum(fault.next_fails() for _ in range(100)) == failures


def test_latency_and_error_together() -> None:
    fault = parse_fault(" error=0.5 , latency=0.2 ")
    assert (fault.error, fault.latency, fault.describe()) == (0.5, 0.2, "error=0.5,latency=0.2")


@pytest.mark.parametrize(("text", "fragment"), [
    ("errors=0.5", "'errors=0.5' is not a known key=value"),
    ("error=half", "'half' is not a number"),
    ("error=1.5", "error=1.5 is out of range"),
    ("latency=-1", "latency=-1 is out of range"),
])
def test_bad_values_say_how_to_write_it(text: str, fragment: str) -> None:
    with pytest.raises(FaultError) as caught:
        parse_fault(text)
    assert fragment in str(caught.value) and "e.g. error=0.5" in str(caught.value)
