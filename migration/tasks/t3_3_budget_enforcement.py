"""Task 3.3: hard optimizer budgets (`assistant.budget`) with constitution checks on every stop.

The action runs `migration/probes/budget.py` in both environments of Task 1.1 (GEPA and
SIMBA in the candidate, SIMBA in production, where GEPA does not exist), then the overhead
benchmark `tests/assistant/test_budget_bench.py` with pytest-benchmark in each environment,
one after the other: the overhead differs by DSPy version (3.0.1's callback dispatch and
its `inspect.stack()` on every `forward` lookup cost more), and the migration's target is
3.0.1. It keeps the record in `<workdir>/budgets.json` and returns the numbers for
state.json's performance_metrics.
"""
from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gitops.handlers import Check, Handler, TaskContext
from migration.environments.environment import Environment
from migration.environments.pytest_run import run_pytest
from migration.environments.sides import CANDIDATE, PRODUCTION, SIDES, VERSIONS
from migration.probes import budget as budget_probe

RECORD = "budgets.json"
BENCH = "tests/assistant/test_budget_bench.py"
N = 20  # GEPA's max_metric_calls and the guard's metric-call limit: FACTS.md saw 22 calls for 20
MAX_OVERHEAD = 0.05
DOC = "docs/budgets.md"
PLANS = {CANDIDATE: ["gepa", "simba"], PRODUCTION: ["simba"]}


def read_benchmark(path: Path, dspy_version: str) -> dict[str, Any]:
    """Medians, fastest rounds, rounds and the overhead from a `--benchmark-json` file of interleaved blocks.

    Each block pairs plain and guarded rounds measured seconds apart; its ratio is guarded over
    plain of the fastest rounds (load only ever adds time to a round of this CPU-bound work), and
    the overhead is the median of the blocks' ratios, so a burst of load on one block cannot decide it.
    """
    rows = json.loads(path.read_text(encoding="utf-8"))["benchmarks"]
    stats = {(r["extra_info"]["variant"], r["extra_info"]["block"]): r["stats"] for r in rows}
    blocks = sorted(b for v, b in stats if v == "guarded" and ("plain", b) in stats)
    if not blocks:
        raise RuntimeError(f"{path}: no block with both a plain and a guarded benchmark")
    ratios = [stats["guarded", b]["min"] / stats["plain", b]["min"] for b in blocks]
    found: dict[str, Any] = {"dspy": dspy_version, "rounds": sum(stats["plain", b]["rounds"] for b in blocks),
                             "blocks": len(blocks), "block_ratios": [round(r, 4) for r in ratios],
                             "ratio": statistics.median(ratios), "timer": rows[0]["options"]["timer"], "json": str(path)}
    for variant in ("plain", "guarded"):
        found[f"{variant}_median"] = statistics.median(stats[variant, b]["median"] for b in blocks)
        found[f"{variant}_min"] = min(stats[variant, b]["min"] for b in blocks)
    return found


def run_benchmark(env: Environment, root: Path, workdir: Path) -> dict[str, Any]:
    """The plain and guarded workloads in one pytest-benchmark run in `env`: see `read_benchmark`."""
    out = workdir / f"budget_bench-{env.name}.json"
    out.unlink(missing_ok=True)
    # CPU time of the (single-threaded) workload: other processes on a shared machine do not count.
    proc = run_pytest([str(root / BENCH), "-q", "--benchmark-enable", "--benchmark-timer=time.process_time",
                       f"--benchmark-json={out}"], env=env, timeout=600)
    if proc.returncode or not out.exists():
        raise RuntimeError(f"{env.name}: pytest {BENCH} exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return read_benchmark(out, VERSIONS[env.name])


def overhead_metrics(bench: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """The overhead ratio (`read_benchmark`) per environment and the worse of them (`budget_overhead_ratio`)."""
    ratios = {f"budget_overhead_ratio_{side}": round(b["ratio"], 4) for side, b in bench.items()}
    return {"budget_overhead_ratio": max(ratios.values()), **ratios}


def action(ctx: TaskContext) -> Mapping[str, Any]:
    """Probe both environments and measure the overhead; record; return the numbers."""
    envs = {name: Environment(name, ctx.root, ctx.environ) for name in PLANS}
    for name, env in envs.items():
        env.create(VERSIONS[name])
    args = {name: [budget_probe.__file__, str(ctx.root.resolve()), str(N), *PLANS[name]] for name in envs}
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(envs[name].json, args[name], None, 600) for name in envs}
        found: dict[str, Any] = {name: future.result() for name, future in futures.items()}
    found["benchmark"] = {side: run_benchmark(envs[side], ctx.root, ctx.workdir) for side in SIDES}
    (ctx.workdir / RECORD).write_text(json.dumps(found, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    gepa = found[CANDIDATE]["optimizers"]["gepa"]
    metrics: dict[str, float] = overhead_metrics(found["benchmark"])
    if gepa["ok"]:
        metrics["budget_gepa_unguarded_metric_calls"] = gepa["unguarded"]["usage"]["metric_calls"]
        metrics["budget_gepa_guarded_metric_calls"] = gepa["guarded"]["metric_calls"]["usage"]["metric_calls"]
    return {"performance_metrics": metrics}


def record(ctx: TaskContext) -> dict[str, Any]:
    """What the action recorded in this run."""
    return json.loads((ctx.workdir / RECORD).read_text(encoding="utf-8"))


def runs(ctx: TaskContext) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Every guarded run: (environment, optimizer, dimension, outcome); raises on a failed probe."""
    found = record(ctx)
    out = []
    for env in PLANS:
        for name, outcome in found[env]["optimizers"].items():
            if not outcome["ok"]:
                raise RuntimeError(f"{env}: {name}: {outcome['error']}\n{outcome['traceback']}")
            out += [(env, name, dim, run) for dim, run in outcome["guarded"].items()]
    return out


def check_operational(ctx: TaskContext) -> Check:
    """GEPA overshoots max_metric_calls=N alone and stops at exactly N under the guard; every dimension stops."""
    gepa = record(ctx)[CANDIDATE]["optimizers"]["gepa"]
    if not gepa["ok"]:
        return Check.failed(f"candidate GEPA probe failed: {gepa['error']}")
    free, held = gepa["unguarded"]["usage"]["metric_calls"], gepa["guarded"]["metric_calls"]["usage"]["metric_calls"]
    lines = [f"GEPA max_metric_calls={N}: {free} metric calls without the guard, {held} with Budget(metric_calls={N})"]
    bad = []
    for env, name, dim, run in runs(ctx):
        stop = run["stopped"] or {}
        lines.append(f"{env} {name} {dim} limit {stop.get('limit')}: used {run['usage'][dim]}, "
                     f"stopped on {stop.get('dimension')}, kept {stop.get('kept')} (score {stop.get('score')})")
        if stop.get("dimension") != dim or run["program"] != "DocsQA":
            bad.append(f"{env} {name} {dim}")
    verdict = Check.passed if held == N and free > N and not bad else Check.failed
    return verdict("\n".join(lines + [f"did not stop as expected: {', '.join(bad)}"] * bool(bad)),
                   gepa_unguarded_metric_calls=free, gepa_guarded_metric_calls=held, budget_metric_calls=N)


def check_monitoring(ctx: TaskContext) -> Check:
    """Article P5 judges each run's usage: the unguarded GEPA breaks it, guarded counted runs keep it."""
    found = record(ctx)[CANDIDATE]["optimizers"]["gepa"]
    free = found["unguarded"]["consume_violations"]
    broken = [f"{e} {n} {d}: {v['evidence']}" for e, n, d, r in runs(ctx) if d != "seconds" for v in r["consume_violations"]]
    late = [r["usage"]["seconds"] - r["stopped"]["limit"] for e, n, d, r in runs(ctx) if d == "seconds"]
    evidence = (f"unguarded GEPA: {free[0]['evidence'] if free else 'no P5 violation'}; guarded metric/LM/token runs: "
                f"{len(broken)} P5 violations; wall time stops at the first call past the deadline "
                f"(latest stop {max(late):.3f} s after it)")
    verdict = Check.passed if free and not broken else Check.failed
    return verdict(evidence + "".join(f"\n- {b}" for b in broken), p5_violations_guarded=len(broken),
                   wall_time_overshoot_seconds=round(max(late), 3))


def check_triggered(ctx: TaskContext) -> Check:
    """Every stop ran the constitution's output articles on the kept program's dev answers."""
    missing = [f"{e} {n} {d}" for e, n, d, r in runs(ctx) if not (r["compliance"] or {}).get("outputs_checked")]
    total = sum(r["compliance"]["outputs_checked"] for *_, r in runs(ctx) if r["compliance"])
    evidence = f"{len(runs(ctx)) - len(missing)} of {len(runs(ctx))} stops judged {total} outputs"
    verdict = Check.failed if missing else Check.passed
    return verdict(evidence + (f"; no check after: {', '.join(missing)}" if missing else ""), outputs_checked=total)


def check_integrated(ctx: TaskContext) -> Check:
    """The kept programs comply: no output article broken by their answers."""
    found = [(f"{e} {n} {d}", v) for e, n, d, r in runs(ctx) for v in (r["compliance"] or {}).get("violations", [])]
    lines = [f"{where}: Article {v['article']}: {v['evidence']}" for where, v in found]
    verdict = Check.failed if found else Check.passed
    return verdict(f"kept programs of {len(runs(ctx))} stops: {len(found)} output violations" +
                   "".join(f"\n- {line}" for line in lines), output_violations=len(found))


def check_overhead(ctx: TaskContext) -> Check:
    """The guard's overhead (`read_benchmark`) is under MAX_OVERHEAD in both environments."""
    found = record(ctx)["benchmark"]
    missing = [side for side in SIDES if side not in found]
    if missing:
        return Check.failed(f"{ctx.workdir / RECORD}: no benchmark in {', '.join(missing)}: run the task again")
    bench = {side: found[side] for side in SIDES}
    lines = [f"{BENCH}: BootstrapFewShot plain and guarded in one pytest-benchmark run per environment, in "
             f"interleaved blocks; overhead: the median over the blocks of guarded/plain fastest rounds (limit "
             f"{100 * MAX_OVERHEAD:.0f}% in each):"]
    lines += [f"{side} (DSPy {b['dspy']}): median {b['plain_median']:.4f} s plain vs {b['guarded_median']:.4f} s "
              f"guarded (fastest {b['plain_min']:.4f} vs {b['guarded_min']:.4f} s) over {b['rounds']} rounds each "
              f"in {b['blocks']} blocks: overhead {100 * (b['ratio'] - 1):+.1f}%; {b['json']}"
              for side, b in bench.items()]
    over = [side for side, b in bench.items() if b["ratio"] - 1 >= MAX_OVERHEAD]
    metrics = {name.removeprefix("budget_"): value for name, value in overhead_metrics(bench).items()}
    if over:
        return Check.failed("\n".join([*lines, f"over the limit in: {', '.join(over)}"]), **metrics)
    return Check.passed("\n".join(lines), **metrics)


def check_documented(ctx: TaskContext) -> Check:
    """docs/budgets.md names the guard, each dimension, the stop and the constitution hook."""
    path = ctx.root / DOC
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    terms = ("BudgetGuard", "BudgetExceeded", "metric_calls", "lm_calls", "tokens", "seconds", "on_violation", "P5")
    missing = [t for t in terms if t not in text]
    if missing:
        return Check.failed(f"{DOC}: missing {', '.join(missing)}")
    return Check.passed(f"{DOC}: documents {', '.join(terms)}", lines=len(text.splitlines()))


HANDLER = Handler(
    action=action,
    checks={
        "Optimizer budget enforcement with constitution compliance validation operational": check_operational,
        "Constitution-aware budget monitoring implemented": check_monitoring,
        "Budget violations trigger constitution compliance checks": check_triggered,
        "Constitution compliance validation integrated with budget enforcement": check_integrated,
        "Performance impact minimal": check_overhead,
        "Budget enforcement with constitution compliance documented": check_documented,
    },
)
