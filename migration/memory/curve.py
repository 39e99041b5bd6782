"""The benchmark's curve as a Markdown table: sync against async at each round-trip time.

`python -m migration.memory.curve benchmark.json` prints it from a pytest-benchmark JSON
report of tests/migration/memory/test_async_memory_bench.py (docs/async-memory.md shows one).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migration.memory.evidence import CURVE, improvement, summarize
from migration.memory.targets import ordered

HEADER = ("| Round trip added | `SELECT 1` measured | sync | async (Semaphore 8) | less time "
          "| async, no bound | less time | load (1 min) |\n|---|---|---|---|---|---|---|---|")


def label(rtt: str) -> str:
    return {"direct": "loopback, no proxy", "0": "proxy, no delay"}.get(rtt, f"{rtt} ms")


def row(rtt: str, variants: Mapping[str, Any]) -> str:
    sync, bounded = variants["sync"], variants["async_bounded"]
    cells = [label(rtt), f"{bounded['ping_ms']} ms",
             f"{sync['median_ms']} ms", f"{bounded['median_ms']} ms", f"{improvement(variants, 'async_bounded')}%"]
    if "async_unbounded" in variants:
        cells += [f"{variants['async_unbounded']['median_ms']} ms", f"{improvement(variants, 'async_unbounded')}%"]
    else:
        cells += ["-", "-"]
    cells.append(str(max(v["load_average_1m"] for v in variants.values())))
    return "| " + " | ".join(cells) + " |"


def table(curve: Mapping[str, Mapping[str, Any]]) -> str:
    """The Markdown table of a summarized benchmark ({rtt: {variant: stats}})."""
    return "\n".join([HEADER, *(row(rtt, variants) for rtt, variants in ordered(curve).items())])


def main(argv: list[str]) -> int:
    data = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    rtts = tuple(r for r in CURVE if any(str(b["extra_info"]["rtt"]) == r for b in data["benchmarks"]))
    variants = tuple(sorted({b["extra_info"]["variant"] for b in data["benchmarks"]}))
    print(table(summarize(data, variants, rtts)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
