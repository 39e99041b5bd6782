"""Faults a release can be started with, to rehearse a rollback: `GITOPS_FAULT=error=0.5,latency=0.2`.

Deterministic on purpose: with `error=0.5` exactly every second request fails (a running share,
not a coin), so a rehearsal fails the same way each time and tests can count the failures.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

FAULT_VARIABLE = "GITOPS_FAULT"
USAGE = "GITOPS_FAULT takes comma-separated key=value pairs: error=<share 0..1>, latency=<seconds>, e.g. error=0.5"


class FaultError(ValueError):
    """GITOPS_FAULT cannot be read; the message says how to write it."""


@dataclass
class Fault:
    """A share of requests to fail and a delay to add to each one."""

    error: float = 0.0
    latency: float = 0.0
    _count: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def active(self) -> bool:
        return self.error > 0 or self.latency > 0

    def next_fails(self) -> bool:
        """Whether the next request fails: the n-th fails when floor(n*share) steps up."""
        with self._lock:
            self._count += 1
            n = self._count
        return math.floor(n * self.error) > math.floor((n - 1) * self.error)

    def describe(self) -> str:
        return f"error={self.error:g},latency={self.latency:g}" if self.active else "none"


def parse_fault(text: str) -> Fault:
    """`error=0.5,latency=0.2` -> Fault; empty -> no fault."""
    values = {"error": 0.0, "latency": 0.0}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, raw = part.partition("=")
        if not sep or key.strip() not in values:
            raise FaultError(f"{FAULT_VARIABLE}={text!r}: {part!r} is not a known key=value. {USAGE}")
        try:
            number = float(raw)
        except ValueError:
            raise FaultError(f"{FAULT_VARIABLE}={text!r}: {raw!r} is not a number. {USAGE}") from None
        if number < 0 or (key.strip() == "error" and number > 1) or not math.isfinite(number):
            raise FaultError(f"{FAULT_VARIABLE}={text!r}: {key}={raw} is out of range. {USAGE}")
        values[key.strip()] = number
    return Fault(**values)


def fault_from_environ(environ: Mapping[str, str]) -> Fault:
    return parse_fault(environ.get(FAULT_VARIABLE, ""))
