"""Measurements behind Tasks 4.1 and 4.2: the benchmark run, a thread probe, imports, tests.

`run_benchmark` runs tests/migration/memory/test_async_memory_bench.py under pytest-benchmark in a
subprocess (every variant at every round-trip time in one run) and summarizes its JSON;
`usable_cores` counts the CPUs the benchmark may use; `probe` opens the async memory on a
file with PostgreSQL and in memory alone, and records which threads touched SQLite; `third_party_imports` reads the memory modules' imports with
`ast`; `sync_api` lists MemoryRehydrator's public signatures in any version of its source;
`classes_in` and `calls` read a source file's classes and attribute uses with `ast`.
"""
from __future__ import annotations

import ast
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assistant.memory_rehydrator import AsyncMemoryRehydrator, EpisodicEvent, MemoryKind, MemoryRehydrator
from migration.environments.pytest_run import run_pytest

BENCH = Path("tests") / "migration" / "memory" / "test_async_memory_bench.py"
SYNC_TESTS = Path("tests") / "assistant" / "test_memory_rehydrator.py"
SOURCE = Path("assistant") / "memory_rehydrator.py"
PROBE_LTM_LIMIT = 2  # the probe's semaphore
PROBE_QUERIES = 32  # rehydrations the probe runs at once
VARIANTS = ("sync", "async_bounded", "async_unbounded")
CURVE = ("direct", "0", "0.5", "1", "2", "5")  # round-trip times of the benchmark (see its docstring)


def usable_cores() -> int:
    """CPUs this process may run on (its affinity, as under taskset or a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux: https://docs.python.org/3/library/os.html#os.sched_getaffinity
        return os.cpu_count() or 1


def run_benchmark(root: Path, workdir: Path, environ: Mapping[str, str], variants: tuple[str, ...] = VARIANTS,
                  rtts: tuple[str, ...] = CURVE) -> dict[str, dict[str, Any]]:
    """Run `variants` at each round-trip time in one pytest-benchmark run (interleaved blocks);
    their stats in ms, keyed by round-trip time, then variant. `environ` should carry DATABASE_URL."""
    report = workdir / "benchmark.json"
    report.unlink(missing_ok=True)
    args = ["-q", str(BENCH), "--benchmark-enable", f"--benchmark-json={report}"]
    chosen = {"GITOPS_MEMORY_BENCH_VARIANTS": ",".join(variants), "GITOPS_MEMORY_BENCH_RTTS": ",".join(rtts)}
    run = run_pytest(args, root=root, environ={**environ, **chosen}, timeout=900)
    (workdir / "benchmark.log").write_text(run.stdout + run.stderr, encoding="utf-8")
    if run.returncode != 0 or not report.exists():
        raise RuntimeError(f"the memory benchmark failed (exit {run.returncode}):\n{run.stdout[-3000:]}{run.stderr[-2000:]}")
    return summarize(json.loads(report.read_text(encoding="utf-8")), variants, rtts)


def summarize(data: Mapping[str, Any], expected: tuple[str, ...] = VARIANTS,
              rtts: tuple[str, ...] = CURVE) -> dict[str, dict[str, Any]]:
    """Per round-trip time and variant, over its blocks: the median of the blocks' medians, the mean
    of their means and the fastest round, in ms; rounds, blocks, CPU use and the measured round
    trip; from pytest-benchmark's JSON."""
    blocks: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        blocks.setdefault(str(info["rtt"]), {}).setdefault(info["variant"], []).append(bench)
    missing = [f"{v} at {r}" for r in rtts for v in expected if v not in blocks.get(r, {})]
    if missing:
        raise RuntimeError(f"the benchmark JSON lacks {missing}; it has {sorted(blocks)}")
    return {rtt: {name: _variant(found) for name, found in blocks[rtt].items()} for rtt in rtts}


def _variant(blocks: list[Mapping[str, Any]]) -> dict[str, Any]:
    stats = [b["stats"] for b in blocks]
    extras = [b["extra_info"] for b in blocks]
    rounds = sum(s["rounds"] for s in stats)
    timed = rounds + sum(e.get("warmup_rounds", 0) for e in extras)  # cpu_seconds covers the warm-up rounds too
    wall = sum(s["total"] * (s["rounds"] + e.get("warmup_rounds", 0)) / s["rounds"] for s, e in zip(stats, extras))
    cpu = sum(e["cpu_seconds"] for e in extras)
    return {
        **{k: v for k, v in extras[-1].items() if k not in ("block", "cpu_seconds", "ping_ms", "ping_after_ms")},
        "median_ms": round(statistics.median(s["median"] for s in stats) * 1000, 1),
        "mean_ms": round(statistics.fmean(s["mean"] for s in stats) * 1000, 1),
        "min_ms": round(min(s["min"] for s in stats) * 1000, 1), "rounds": rounds, "blocks": len(blocks),
        "cpu_seconds": round(cpu, 3), "cpu_per_wall_second": round(cpu / wall, 2), "cpu_ms_per_round": round(cpu / timed * 1000, 1),
        "load_average_1m": max(e.get("load_average_1m", 0.0) for e in extras),
        "ltm_peak_concurrency": max(e.get("ltm_peak_concurrency", 0) for e in extras),
        "ping_ms": round(statistics.median(e["ping_ms"] for e in extras), 3),
        "ping_after_ms": round(statistics.median(e["ping_after_ms"] for e in extras), 3),
    }


def improvement(variants: Mapping[str, Any], name: str, stat: str = "median_ms", baseline: str = "sync") -> float:
    """Percent less time than `baseline` (positive: faster)."""
    return round(100 * (1 - variants[name][stat] / variants[baseline][stat]), 1)


async def _probe(folder: Path, database_url: str) -> dict[str, Any]:
    threads: set[int] = set()

    class Traced(MemoryRehydrator):
        def candidates(self, kind: MemoryKind, query: str, session: str | None = None) -> Any:
            threads.add(threading.get_ident())
            return super().candidates(kind, query, session)

        def add_events(self, events: Any) -> list[int]:
            threads.add(threading.get_ident())
            return super().add_events(events)

    path = folder / "probe.db"
    for old in folder.glob("probe.db*"):
        old.unlink()
    out: dict[str, Any] = {}
    async with asyncio.timeout(30):
        async with AsyncMemoryRehydrator(path, ltm_concurrency=PROBE_LTM_LIMIT, batch_size=64, database_url=database_url,
                                         connect=lambda: Traced(path)) as memory:
            out["long_term_store"] = memory.long_term_store
            await memory.remember("doc:flusher", "The background flusher writes episodic events in batches.")
            await memory.add_events(EpisodicEvent("probe", "note", f"event {i} for the flusher") for i in range(500))
            await memory.flush()
            found = await asyncio.gather(*(memory.rehydrate(f"flusher event {i}") for i in range(PROBE_QUERIES)))
            out.update(memory.stats(), loop_thread_used=threading.get_ident() in threads, worker_threads=len(threads))
            out["rehydrated"] = sum(len(f) for f in found)
        async with AsyncMemoryRehydrator() as memory:  # no file: short-term memory in :memory:
            await memory.add_event("probe", "question", "Does memory work without a file?")
            await memory.flush()
            out["in_memory_found"] = [m.label for m in await memory.rehydrate("memory without a file")]
            out["in_memory_store"] = memory.long_term_store
    return out


def probe(folder: Path, database_url: str) -> dict[str, Any]:
    """Run the async memory briefly (SQLite file + PostgreSQL, and SQLite-only in memory) and
    report the threads that touched SQLite, batches and bounds."""
    folder.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_probe(folder, database_url))


def imports(source: str) -> set[str]:
    """Top-level names of the modules `source` imports (relative imports excluded)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def assistant_imports(source: str) -> set[str]:
    """The `assistant.<module>` names that `source` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
        found |= {n.split(".")[1] for n in names if n.startswith("assistant.")}
    return found


def third_party_imports(root: Path, start: str = "memory_rehydrator") -> dict[str, list[str]]:
    """For `start` and every assistant module it reaches, imports that are neither stdlib nor `assistant`."""
    found: dict[str, list[str]] = {}
    todo = [start]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        source = (root / "assistant" / f"{name}.py").read_text(encoding="utf-8")
        found[name] = sorted(i for i in imports(source) if i not in sys.stdlib_module_names and i != "assistant")
        todo += sorted(assistant_imports(source))
    return dict(sorted(found.items()))


def git_show(root: Path, revision: str, path: Path) -> str | None:
    """A file's text at `revision`, or None when git or the file is not there."""
    try:
        proc = subprocess.run(["git", "show", f"{revision}:{path.as_posix()}"], cwd=root,
                              capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    return proc.stdout if proc.returncode == 0 else None


def dependencies(pyproject: str) -> list[str]:
    """The runtime `[project] dependencies` of a pyproject.toml (test extras are not shipped)."""
    return sorted(tomllib.loads(pyproject).get("project", {}).get("dependencies", []))


def sync_api(source: str) -> dict[str, str]:
    """MemoryRehydrator's public methods -> their signature, as written in `source`."""
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "MemoryRehydrator")
    return {
        node.name: f"({ast.unparse(node.args)}) -> {ast.unparse(node.returns) if node.returns else 'None'}"
        for node in cls.body
        if isinstance(node, ast.FunctionDef) and (not node.name.startswith("_") or node.name in ("__init__", "__enter__", "__exit__"))
    }


def classes_in(path: Path) -> dict[str, ast.ClassDef]:
    """The top-level classes of a Python file, by name."""
    return {n.name: n for n in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(n, ast.ClassDef)}


def calls(path: Path, dotted: str) -> int:
    """How many times `path` mentions `dotted` (e.g. "asyncio.to_thread") as an attribute."""
    return sum(isinstance(n, ast.Attribute) and ast.unparse(n) == dotted for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))
