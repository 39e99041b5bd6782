"""Plots of the post-deployment report: latency and error rate per release over time, from client records."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from migration.production.loadgen import Record, quantile

BIN_SECONDS = 5.0


def series(records: Iterable[Record], bin_seconds: float = BIN_SECONDS
           ) -> dict[str, list[tuple[float, float | None, float]]]:
    """release (a reference apart) -> [(bin start, p95 latency ms of its successes, error rate)], bins in order."""
    bins: dict[str, dict[int, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        name = record.release or "no answer"
        name += " (reference)" if record.target == "reference" else ""  # the same release, apart from the proxy's
        bins[name][int(record.at // bin_seconds)].append(record)
    out: dict[str, list[tuple[float, float | None, float]]] = {}
    for release, by_bin in sorted(bins.items()):
        rows = []
        for index, items in sorted(by_bin.items()):
            ok = [r.latency for r in items if r.status == 200]
            p95 = quantile(ok, 0.95)
            rows.append((index * bin_seconds, None if p95 is None else p95 * 1000,
                         sum(r.status != 200 for r in items) / len(items)))
        out[release] = rows
    return out


def plot(records: Iterable[Record], path: Path, title: str) -> Path:
    """A PNG with two panels: p95 latency and error rate per release, per 5 s."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a runner
    import matplotlib.pyplot as plt

    data = series(records)
    figure, (latency, errors) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for release, rows in data.items():
        xs = [x for x, p95, _ in rows if p95 is not None]
        latency.plot(xs, [p95 for _, p95, _ in rows if p95 is not None], marker=".", label=release)
        errors.plot([x for x, _, _ in rows], [e * 100 for _, _, e in rows], marker=".", label=release)
    latency.set_ylabel("p95 latency (ms)")
    errors.set_ylabel("failed requests (%)")
    errors.set_xlabel(f"seconds since traffic started ({BIN_SECONDS:g} s bins)")
    latency.set_title(title)
    latency.legend()
    errors.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path
