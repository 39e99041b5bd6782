"""The round trips the memory benchmark and fault scenarios run at: through the latency proxy, measured.

`ping_ms` is what the client sees: the median time of `SELECT 1` on one connection (a round
trip plus the server's least work). A round-trip time of the curve is what the proxy adds;
`set_round_trip` sets it and measures `SELECT 1` through the proxy, which also shows what the
proxy itself costs (its forwarding, and waking up on time on a loaded machine). An earlier
version corrected the setting by what it measured, so that `SELECT 1` would take the nominal
time; on a loaded machine one noisy measurement set the delay to 0, so the added delay is
now the nominal one and the measurement stands beside it.
"""
from __future__ import annotations

import statistics
import time
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from migration.memory.latency_proxy import ProxyProcess

PINGS = 60


def through(url: str, port: int) -> str:
    """`url` sent to the proxy on 127.0.0.1:`port` instead of its own host and port."""
    return make_conninfo(**{**conninfo_to_dict(url), "host": "127.0.0.1", "port": str(port)})


def host_port(url: str) -> tuple[str, int]:
    params = conninfo_to_dict(url)
    return params.get("host", "127.0.0.1"), int(params.get("port", 5432))


def ping_ms(url: str, n: int = PINGS) -> float:
    """Median ms of `SELECT 1` over one connection (after one warm-up query)."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as db:
        db.execute("SELECT 1").fetchone()
        times = []
        for _ in range(n):
            began = time.perf_counter()
            db.execute("SELECT 1").fetchone()
            times.append(time.perf_counter() - began)
    return round(statistics.median(times) * 1000, 3)


def set_round_trip(proxy: ProxyProcess, url: str, added_ms: float) -> dict[str, Any]:
    """Make the proxy add `added_ms` to every round trip; `SELECT 1` measured through it."""
    proxy.set_rtt(added_ms)
    return {"setting_ms": added_ms, "ping_ms": ping_ms(through(url, proxy.port))}
