"""The report's plot data: per release and 5 s bin, p95 latency of successes and the failed share."""
from __future__ import annotations

from pathlib import Path

from migration.production.loadgen import Record
from migration.production.plots import plot, series


def rec(at: float, release: str, status: int = 200, latency: float = 0.01) -> Record:
    return Record(at, "q", status, latency, release, "a")


RECORDS = [rec(0.5, "stable"), rec(1.0, "stable", latency=0.03), rec(6.0, "canary", 503), rec(7.0, "canary"),
           rec(8.0, "", 0)]


def test_series_bins_by_release() -> None:
    assert series(RECORDS) == {"canary": [(5.0, 10.0, 0.5)], "no answer": [(5.0, None, 1.0)],
                               "stable": [(0.0, 30.0, 0.0)]}


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    path = plot(RECORDS, tmp_path / "p.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_reference_is_plotted_apart_from_the_same_release_behind_the_proxy() -> None:
    records = [rec(0.5, "stable"), Record(0.6, "q", 200, 0.02, "stable", "a", target="reference")]
    assert series(records) == {"stable": [(0.0, 10.0, 0.0)], "stable (reference)": [(0.0, 20.0, 0.0)]}
