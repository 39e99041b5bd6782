"""What Prometheus recorded of each release over a span of wall-clock time: p50/p95/p99 and the 5xx share.

Task 6.2 judges the whole window it watched (on GitHub 24 hours: from the task record's
`opened_at` to the end of the evaluation's own traffic), not only the minute it measures when
evaluated. Each figure is one instant query evaluated at the span's end (the HTTP API's `time`
parameter, https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries) over a
range selector as long as the span: `histogram_quantile` of the buckets' `rate` over the span is
the quantile of every request in it, and `rate` handles counters reset by a restarted release
(https://prometheus.io/docs/prometheus/latest/querying/functions/#rate). A range query
(/api/v1/query_range) would answer one value per step instead, and quantiles of steps do not
combine into the span's quantile.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Protocol

from migration.production.analysis import count_query, error_rate_query, window_text

QUANTILES = (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99))


class Queries(Protocol):
    """The part of analysis.Prometheus a span needs."""

    def scalar(self, promql: str, at: float | None = None) -> float | None: ...


def quantile_query(q: float, release: str, window: str) -> str:
    return (f"histogram_quantile({q}, sum by (le) "
            f'(rate(assistant_request_seconds_bucket{{release="{release}"}}[{window}])))')


def figures(prometheus: Queries, release: str, start: float, end: float) -> dict[str, float | None]:
    """`release`'s quantiles (ms), 5xx share and request count between `start` and `end` (Unix seconds)."""
    window = window_text(end - start)
    out: dict[str, float | None] = {}
    for name, q in QUANTILES:
        value = prometheus.scalar(quantile_query(q, release, window), end)
        out[name] = None if value is None else round(value * 1000, 2)
    rate = prometheus.scalar(error_rate_query(release, window), end)
    out["error_rate"] = None if rate is None else round(rate, 4)
    requests = prometheus.scalar(count_query(release, window), end)
    out["requests"] = None if requests is None else round(requests)
    return out


def per_release(prometheus: Queries, releases: Iterable[str], start: float, end: float) -> dict[str, Any]:
    """The span (its bounds as UTC times) and each release's figures over it."""
    return {"from": _utc(start), "to": _utc(end), "seconds": round(end - start, 1),
            "releases": {name: figures(prometheus, name, start, end) for name in releases}}


def unix(text: str) -> float:
    """Unix seconds of an ISO 8601 time as the engine writes it (a naive one is UTC)."""
    moment = dt.datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()


def _utc(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat(timespec="seconds")
