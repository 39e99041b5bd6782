"""The proxy's overhead per request: wrk against a release directly and through nginx, p50 and p99.

Run with `--benchmark-enable` (scripts/bench); it needs the checkout's `.venvs/production`
(Task 1.1) and installs nginx, Prometheus and wrk when missing. Both targets get the same load
in alternating rounds, since a shared machine's speed drifts. Nothing here asserts a time: the
figures are printed and kept in the benchmark's extra_info.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from migration.environments.environment import Environment
from migration.production import reconciler
from migration.production.spec import SPEC_PATH, load
from migration.production.tools import ToolError, ensure
from tests.conftest import ROOT

SCRIPT = """wrk.method = "POST"
wrk.body = '{"question": "How many tasks does the B-1006 task list have?"}'
wrk.headers["Content-Type"] = "application/json"
"""
ROUNDS, SECONDS, CONNECTIONS = 3, 5, 4
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def percentiles(output: str) -> dict[str, float]:
    """wrk --latency's "Latency Distribution" lines, in ms."""
    found = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.MULTILINE))
    out = {}
    for key, text in found.items():
        number, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
        out[f"p{key}_ms"] = float(number) * UNITS[unit]
    return out


def test_percentiles_are_read_from_wrk_output() -> None:
    sample = "  Latency Distribution\n     50%   12.50ms\n     75%   20.00ms\n     90%   1.20s\n     99%  900.00us\n"
    assert percentiles(sample) == {"p50_ms": 12.5, "p99_ms": 0.9}


@pytest.fixture(scope="module")
def stack(request: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    if request.config.getoption("benchmark_disable", True) and not request.config.getoption("benchmark_enable", False):
        pytest.skip("a benchmark: run with --benchmark-enable")
    if not Environment("production", ROOT).exists():
        pytest.skip("no .venvs/production: run Task 1.1 first")
    try:
        tools = ensure(("nginx", "prometheus", "promtool", "wrk"), os.environ, lambda m: None)
    except ToolError as error:
        pytest.skip(str(error))
    spec = load(ROOT / SPEC_PATH).without("canary").with_weights({"stable": 100})
    folder = tmp_path_factory.mktemp("production")
    state = reconciler.reconcile(spec, ROOT, folder, os.environ, lambda m: None)
    script = folder / "ask.lua"
    script.write_text(SCRIPT)
    yield state, tools["wrk"], script
    reconciler.down(folder, lambda m: None)


@pytest.mark.parametrize("round_", range(1, ROUNDS + 1))
def test_proxy_overhead(benchmark: Any, stack: Any, round_: int) -> None:
    state, wrk, script = stack
    targets = {"direct": f"http://127.0.0.1:{state.releases['stable'].port}/ask", "proxy": f"{state.proxy.url}/ask"}
    order = list(targets) if round_ % 2 else list(reversed(targets))
    results: dict[str, dict[str, float]] = {}
    for name in order:
        proc = subprocess.run([wrk, "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "-s", str(script),
                               targets[name]], capture_output=True, text=True, check=True)
        results[name] = percentiles(proc.stdout)
    benchmark.extra_info.update({f"{name}_{k}": v for name, r in results.items() for k, v in r.items()})
    benchmark.pedantic(lambda: None, rounds=1)
    print(f"round {round_}: {results}")
    assert set(results["proxy"]) == {"p50_ms", "p99_ms"}
