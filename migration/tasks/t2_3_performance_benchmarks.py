"""Task 2.3: benchmark the assistant under DSPy 2.6.27 and 3.0.1 in one run and compare.

The action runs `migration/benchmarks/bench_assistant.py` with pytest-benchmark in the
production environment, then in the candidate (one after the other: in parallel they would
slow each other down), each writing `--benchmark-json` into the task's work folder. The
ratios (candidate / production) go to `state.json` `performance_metrics`, the comparison
to `<workdir>/performance.json` and docs/performance.md. Each check reads those files.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from gitops.handlers import Check, Handler, TaskContext
from migration.environments.environment import SetupError
from migration.environments.pytest_run import run_pytest
from migration.environments.sides import CANDIDATE, PRODUCTION, SIDES, VERSIONS, ready_environments
from migration.evidence import bench_compare, perf_report
from migration.evidence.bench_compare import MEASURES, VERDICTS, show

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_assistant.py"
RECORD = "performance.json"
DOC = Path("docs") / "performance.md"
IMPORT_ROUNDS = 3
# Short runs keep the task near a minute: in-process benchmarks get 0.3 s and at least 10 rounds each.
PYTEST_ARGS = ("-q", "-o", "addopts=", "--benchmark-enable", "--benchmark-max-time=0.3", "--benchmark-min-rounds=10",
               "--benchmark-sort=name")


def results_path(ctx: TaskContext, side: str) -> Path:
    """Where one environment's `--benchmark-json` goes."""
    return ctx.workdir / f"bench-{side}.json"


def run_benchmarks(ctx: TaskContext) -> dict[str, Any]:
    """The suite in each environment in turn; their pytest-benchmark JSON by environment."""
    envs = ready_environments(ctx)
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    reports = {}
    for side in SIDES:
        out = results_path(ctx, side)
        out.unlink(missing_ok=True)
        proc = run_pytest([str(BENCH), *PYTEST_ARGS, f"--benchmark-json={out}"], env=envs[side],
                          environ={"BENCH_IMPORT_ROUNDS": str(IMPORT_ROUNDS)})
        if proc.returncode != 0 or not out.exists():
            raise SetupError(f"the benchmarks failed in .venvs/{side} (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")
        reports[side] = json.loads(out.read_text(encoding="utf-8"))
        ctx.log(f".venvs/{side}: {len(reports[side]['benchmarks'])} benchmarks -> {out}")
    return reports


def action(ctx: TaskContext) -> Mapping[str, Any]:
    """Benchmark both environments, compare, write the record and docs/performance.md; return the ratios."""
    rows = write_record(ctx, run_benchmarks(ctx))
    ctx.log("ratios: " + ", ".join(f"{r['key']} x{r['ratio']:.2f}" for r in rows))
    return {"performance_metrics": bench_compare.metrics(rows)}


def write_record(ctx: TaskContext, reports: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Compare the two benchmark runs; write `<workdir>/performance.json` and docs/performance.md; return the rows."""
    rows = bench_compare.compare(reports[PRODUCTION], reports[CANDIDATE])
    verdicts = bench_compare.analysis(rows)
    ideas = bench_compare.opportunities(rows, reports[CANDIDATE])
    versions = {side: measured_version(reports[side]) for side in SIDES}
    measured_at = {side: reports[side]["datetime"] for side in SIDES}
    record = {"rows": rows, "analysis": verdicts, "opportunities": ideas, "versions": versions, "measured_at": measured_at}
    (ctx.workdir / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    page = perf_report.render(rows, verdicts, ideas, versions, measured_at, {"import_dspy": IMPORT_ROUNDS})
    (ctx.root / DOC).parent.mkdir(parents=True, exist_ok=True)
    (ctx.root / DOC).write_text(page, encoding="utf-8")
    return rows


def measured_version(report: Mapping[str, Any]) -> str:
    """The dspy version every benchmark of a report says it ran under ('mixed: ...' if they disagree)."""
    seen = sorted({str(b["extra_info"].get("dspy_version")) for b in report["benchmarks"]})
    return seen[0] if len(seen) == 1 else f"mixed: {', '.join(seen)}"


def record(ctx: TaskContext) -> dict[str, Any]:
    """What this run's action compared."""
    return json.loads((ctx.workdir / RECORD).read_text(encoding="utf-8"))


def established(ctx: TaskContext, side: str) -> tuple[bool, list[str]]:
    """Did every benchmark run under this side's dspy? With one line per measure."""
    report = json.loads(results_path(ctx, side).read_text(encoding="utf-8"))
    names = set(bench_compare.by_test(report))
    missing = sorted({m.test for m in MEASURES} - names)
    version = measured_version(report)
    lines = [f".venvs/{side}: dspy {version}; {len(names)} benchmarks in {results_path(ctx, side)} ({report['datetime']})"]
    lines += [f"{m.label}: {show(bench_compare.value(report, m), m.unit)} ({m.stat.replace('extra:', '')})"
              for m in MEASURES if m.test in names]
    if missing:
        lines.insert(0, f"missing benchmarks: {', '.join(missing)}")
    return not missing and version == VERSIONS[side], lines


def check_baseline(ctx: TaskContext) -> Check:
    """Every benchmark ran under dspy 2.6.27 and wrote its numbers."""
    ok, lines = established(ctx, PRODUCTION)
    return (Check.passed if ok else Check.failed)("\n".join(lines), benchmarks=len(MEASURES))


def check_candidate(ctx: TaskContext) -> Check:
    """The same benchmarks ran under dspy 3.0.1; each measure's ratio to the baseline."""
    ok, lines = established(ctx, CANDIDATE)
    rows = record(ctx)["rows"]
    lines += [f"{r['key']}: {show(r['production'], r['unit'])} -> {show(r['candidate'], r['unit'])} (x{r['ratio']:.2f})" for r in rows]
    return (Check.passed if ok else Check.failed)("\n".join(lines), **{f"{r['key']}_ratio": r["ratio"] for r in rows})


def check_analysis(ctx: TaskContext) -> Check:
    """Every measure classified (regressed, improved, unchanged beyond max(10%, the control's drift)), the drift stated."""
    found = record(ctx)
    classified = sum(len(keys) for keys in found["analysis"].values())
    rows = {r["key"]: r for r in found["rows"]}
    lines = [f"{verdict}: " + (", ".join(f"{k} x{rows[k]['ratio']:.2f}" for k in found["analysis"][verdict]) or "none")
             for verdict in VERDICTS]
    lines.append(perf_report.drift(found["rows"]))
    ok = classified == len(MEASURES) == len(rows)
    return (Check.passed if ok else Check.failed)("\n".join(lines), regressed=len(found["analysis"]["regressed"]),
                                                  improved=len(found["analysis"]["improved"]))


def check_opportunities(ctx: TaskContext) -> Check:
    """Opportunities computed from the candidate's numbers (shares of forward time, import cost, memory)."""
    ideas = record(ctx)["opportunities"]
    return (Check.passed if ideas else Check.failed)("\n".join(f"- {idea}" for idea in ideas) or "none derived",
                                                     opportunities=len(ideas))


def check_documented(ctx: TaskContext) -> Check:
    """docs/performance.md holds this run's table: every measure with its ratio, and this run's timestamps."""
    path = ctx.root / DOC
    if not path.exists():
        return Check.failed(f"{DOC} does not exist: the action writes it (re-run Task 2.3)")
    text, found = path.read_text(encoding="utf-8"), record(ctx)
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    missing = [r["key"] for r in found["rows"]
               if not any(r["label"] in line and perf_report.ratio_cell(r) in line for line in rows)]
    stale = [stamp for stamp in found["measured_at"].values() if stamp not in text]
    if missing or stale:
        return Check.failed(f"{DOC} is not this run's: rows without this run's ratio: {missing or 'none'}; "
                            f"timestamps missing: {stale or 'none'}")
    ratios = ", ".join(f"{r['key']} {perf_report.ratio_cell(r)}" for r in found["rows"])
    return Check.passed(f"{DOC}: {len(found['rows'])} measures with this run's ratios ({ratios}), "
                        f"regression analysis and {len(found['opportunities'])} optimization opportunities", rows=len(found["rows"]))


HANDLER = Handler(
    action=action,
    checks={
        "Performance benchmarks established for current DSPy 2.6.27 system": check_baseline,
        "DSPy 3.0 performance measured against benchmarks": check_candidate,
        "Performance regression analysis completed": check_analysis,
        "Optimization opportunities identified": check_opportunities,
        "Performance documentation updated": check_documented,
    },
)
