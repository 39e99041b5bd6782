"""Task 3.3: hard optimizer budgets (`assistant.budget`) with constitution checks on every stop.

The action runs `migration/budget_probe.py` in both environments of Task 1.1 (GEPA and
SIMBA in the candidate, SIMBA in production, where GEPA does not exist) and the overhead
benchmark `tests/assistant/test_budget_bench.py` with pytest-benchmark; it keeps the record
in `<workdir>/budgets.json` and returns the numbers for state.json's performance_metrics.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gitops.handlers import Check, Handler, TaskContext
from migration import budget_probe
from migration.environments import Environment
from migration.setup_environments import CANDIDATE, PRODUCTION, VERSIONS

RECORD = "budgets.json"
BENCH = "tests/assistant/test_budget_bench.py"
N = 20  # GEPA's max_metric_calls and the guard's metric-call limit: FACTS.md saw 22 calls for 20
MAX_OVERHEAD = 0.05
DOC = "docs/budgets.md"
PLANS = {CANDIDATE: ["gepa", "simba"], PRODUCTION: ["simba"]}


def run_benchmark(ctx: TaskContext) -> dict[str, Any]:
    """The plain and guarded workloads in one pytest-benchmark run; their medians and ratio."""
    out = ctx.workdir / "budget_bench.json"
    command = [sys.executable, "-m", "pytest", BENCH, "-q", "-p", "no:cacheprovider", "--benchmark-enable",
               f"--benchmark-json={out}"]
    proc = subprocess.run(command, cwd=ctx.root, env=dict(ctx.environ), capture_output=True, text=True, timeout=600)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{proc.stdout[-3000:]}")
    stats = {b["name"].rsplit("[", 1)[-1].rstrip("]"): b["stats"] for b in json.loads(out.read_text(encoding="utf-8"))["benchmarks"]}
    plain, guarded = stats["plain"], stats["guarded"]
    return {"plain_median": plain["median"], "guarded_median": guarded["median"], "rounds": plain["rounds"],
            "ratio": guarded["median"] / plain["median"], "json": str(out)}


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
    found["benchmark"] = run_benchmark(ctx)
    (ctx.workdir / RECORD).write_text(json.dumps(found, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    gepa = found[CANDIDATE]["optimizers"]["gepa"]
    metrics: dict[str, float] = {"budget_overhead_ratio": round(found["benchmark"]["ratio"], 4)}
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
    """The guarded optimizer's median time over the plain one's, from one pytest-benchmark run."""
    bench = record(ctx)["benchmark"]
    ratio = bench["ratio"]
    verdict = Check.passed if ratio - 1 < MAX_OVERHEAD else Check.failed
    return verdict(f"{BENCH}: BootstrapFewShot, median {bench['plain_median']:.4f} s plain vs "
                   f"{bench['guarded_median']:.4f} s guarded over {bench['rounds']} rounds: overhead "
                   f"{100 * (ratio - 1):+.1f}% (limit {100 * MAX_OVERHEAD:.0f}%); {bench['json']}",
                   overhead_ratio=round(ratio, 4))


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
