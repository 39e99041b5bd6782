"""Read the constitution's overhead from the JSON that pytest-benchmark wrote for
`tests/migration/constitution/test_overhead.py` (`extra_info`: `variant`, `block`).

The variants run in interleaved blocks; within a block they ran minutes apart at most, so
each block gives one paired ratio of fastest rounds (variant / plain). The overhead is the
median of those ratios: robust to a block that a burst of machine load hit. Its noise is how
far the medians of the first and the second half of the blocks disagree.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

BASELINE = "plain"


def _percent(ratio: float) -> float:
    return round(100 * (ratio - 1), 2)


def paired_overheads(stats: dict[tuple[str, int], dict[str, float]], variant: str) -> list[float]:
    """Per block, in block order: the variant's fastest round over plain's, as a ratio."""
    blocks = sorted(b for v, b in stats if v == variant and (BASELINE, b) in stats)
    return [stats[(variant, b)]["min"] / stats[(BASELINE, b)]["min"] for b in blocks]


def read_benchmark(benchmark_json: Path) -> dict[str, Any]:
    """Per variant its fastest and median round; the paired overheads over plain, with their noise."""
    data = json.loads(benchmark_json.read_text(encoding="utf-8"))
    stats = {(b["extra_info"]["variant"], b["extra_info"]["block"]): b["stats"] for b in data["benchmarks"]}
    variants = sorted({v for v, _ in stats})
    ratios = {v: paired_overheads(stats, v) for v in variants if v != BASELINE}
    mine = ratios["constitution"]
    half = len(mine) // 2
    first = data["benchmarks"][0]
    return {
        "variants": {v: {"min_ms": round(min(s["min"] for (w, _), s in stats.items() if w == v) * 1000, 3),
                         "median_ms": round(statistics.median(s["median"] for (w, _), s in stats.items() if w == v) * 1000, 3),
                         "blocks": sum(1 for w, _ in stats if w == v),
                         "rounds": sum(s["rounds"] for (w, _), s in stats.items() if w == v)} for v in variants},
        "overhead_percent": _percent(statistics.median(mine)),
        "blocks_percent": [_percent(r) for r in mine],
        "noise_percent": round(abs(_percent(statistics.median(mine[:half] or mine))
                                   - _percent(statistics.median(mine[half:]))), 2),
        "dspy_callback_percent": _percent(statistics.median(ratios["dspy-callback"])),
        "questions": first["extra_info"]["questions"], "timer": first["options"]["timer"],
    }
