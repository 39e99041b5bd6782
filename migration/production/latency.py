"""Production's latency judged against a reference measured beside it, as a ratio per quantile.

A baseline measured minutes earlier compares only on a machine exactly as busy: on a shared
2-core machine Task 6.2 once saw p95 187 ms in its window against 26 ms at Task 6.1's baseline,
and 36 ms half a minute later. Requests that alternate between production and a reference
release (loadgen.LoadGenerator with `reference`) share the machine's load at every moment, so
their ratio measures the release, not the machine. The limit stays the one of
deploy/production.yaml (`max_p95_ratio`), applied to p50, p95 and p99 alike.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

QUANTILES = ("p50_ms", "p95_ms", "p99_ms")


@dataclass(frozen=True)
class Comparison:
    """Production's and the reference's quantiles in one window, and their ratios against `limit`."""

    production: Mapping[str, Any]
    reference: Mapping[str, Any]
    limit: float

    @property
    def ratios(self) -> dict[str, float | None]:
        """production / reference per quantile; None when either side measured nothing."""
        return {q: round(self.production[q] / self.reference[q], 3) if self.production.get(q) and self.reference.get(q)
                else None for q in QUANTILES}

    @property
    def ok(self) -> bool:
        """Every quantile measured on both sides and within the limit (nothing measured is no pass)."""
        return all(r is not None and r <= self.limit for r in self.ratios.values())

    def text(self) -> str:
        shown = "/".join(str(self.production.get(q)) for q in QUANTILES)
        against = "/".join(str(self.reference.get(q)) for q in QUANTILES)
        return (f"p50/p95/p99 {shown} ms in production against {against} ms for the reference beside it "
                f"(ratios {self.ratios}, limit {self.limit:g})")
