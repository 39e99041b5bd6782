"""Task 2.1: constitution-aware testing, integrated with the project's pytest suites.

The action runs, under a strict operation guard over the repository and the task's working
folder: the constitution suite, the assistant suite with the constitution plugin and again
with it switched off (GITOPS_CONSTITUTION=off), and the violation probe under the engine's
DSPy and the candidate's, all at once; then, alone on the machine, the overhead benchmark
(`--benchmark-enable --benchmark-json`). It writes `<workdir>/constitution.json`; each check
reads its part there and reports what was measured.
"""
from __future__ import annotations

import ast
import json
import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Mapping, Sequence

from gitops.handlers import Check, Handler, TaskContext
from migration.constitution import (
    Guard,
    World,
    default,
    guarded,
    operation,
    probe,
    pytest_plugin,
)
from migration.constitution.articles import Scope
from migration.constitution.overhead import read_benchmark
from migration.environments.environment import Environment, SetupError
from migration.environments.pytest_run import PytestRun, run_pytest
from migration.environments.sides import CANDIDATE

SUITE = ("tests/migration/constitution/test_constitution.py", "tests/migration/constitution/test_pytest_plugin.py")
ASSISTANT = "tests/assistant"
CONFTEST = Path("tests/assistant/conftest.py")
BENCHMARK = "tests/migration/constitution/test_overhead.py"
DOC = Path("docs/constitution.md")
DOC_TERMS = ("tests/assistant/conftest.py", "-p migration.constitution.pytest_plugin", pytest_plugin.REPORT_VARIABLE,
             pytest_plugin.SWITCH_VARIABLE, pytest_plugin.EXEMPT_MARKER, "constitution.operation(", "guarded(",
             "CONSTITUTION.md", BENCHMARK)
MAX_OVERHEAD_PERCENT = 5.0
REPORT = "constitution.json"
FIXED_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "MLFLOW_DISABLE_TELEMETRY": "true"}


def probes(ctx: TaskContext, env: Mapping[str, str]) -> dict[str, Any]:
    """The probe under the engine's interpreter and, when Task 1.1 built it, the candidate's."""
    found = {"engine": probe.run(sys.executable, ctx.root, env)}
    candidate = Environment(CANDIDATE, ctx.root, ctx.environ)
    if candidate.exists():
        try:
            found["candidate"] = candidate.json(["-m", probe.MODULE], env=FIXED_ENV, timeout=300)
        except SetupError as error:
            found["candidate"] = {"error": str(error)}
    return found


def changed_outcomes(on: Mapping[str, str], off: Mapping[str, str]) -> list[str]:
    """Test ids whose outcome differs between two runs of a suite."""
    return sorted(case for case in on.keys() | off.keys() if on.get(case) != off.get(case))


def log_path(ctx: TaskContext, name: str) -> Path:
    """Where the output of the pytest run `name` is kept."""
    return ctx.workdir / f"{name}.log"


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log, for evidence."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").rstrip().splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def run_logged(ctx: TaskContext, name: str, args: Sequence[str], env: Mapping[str, str]) -> PytestRun:
    """One pytest run in the engine's interpreter; its JUnit and its output go to `<workdir>/<name>.*`."""
    run = run_pytest(args, ctx.workdir / f"{name}.junit.xml", root=ctx.root, environ=env, timeout=900)
    log_path(ctx, name).write_text(run.stdout + run.stderr, encoding="utf-8")
    return run


def start(pool: ThreadPoolExecutor, ctx: TaskContext, runs: Mapping[str, Sequence[str]], env: Mapping[str, str],
          extra: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Future[PytestRun]]:
    """Start every named run at once, each with `env` plus its own variables from `extra`."""
    return {name: pool.submit(run_logged, ctx, name, args, {**env, **(extra or {}).get(name, {})})
            for name, args in runs.items()}


def finish(started: Mapping[str, Future[PytestRun]]) -> dict[str, PytestRun]:
    """Wait for every started run."""
    return {name: future.result() for name, future in started.items()}


def rerun_changed(runs: Mapping[str, PytestRun], ctx: TaskContext, env: Mapping[str, str],
                  pool: ThreadPoolExecutor) -> dict[str, PytestRun]:
    """Run the tests that ended differently with and without the plugin once more, both ways.

    A test that differs only once is flaky, not changed by the plugin.
    """
    on, off = (runs[f"assistant-{w}-constitution"] for w in ("with", "without"))
    changed = changed_outcomes({c.id: c.outcome for c in on.cases}, {c.id: c.outcome for c in off.cases})
    if not changed:
        return {}
    return finish(start(pool, ctx, {"rerun-with-constitution": changed, "rerun-without-constitution": changed}, env,
                        {"rerun-without-constitution": {pytest_plugin.SWITCH_VARIABLE: "off"}}))


def action(ctx: TaskContext) -> Mapping[str, Any]:
    """Run the suites, the probes and the benchmark under a guard; keep what they found."""
    env = {**os.environ, **ctx.environ, **FIXED_ENV}
    env.pop(pytest_plugin.SWITCH_VARIABLE, None)
    plugin_report, bench_json = ctx.workdir / "assistant-constitution.json", ctx.workdir / "benchmark.json"
    guard = Guard(World.of(ctx.root, (ctx.workdir,), ctx.environ))
    with guarded(guard), ThreadPoolExecutor(max_workers=3) as pool:
        for path in (plugin_report, bench_json, ctx.workdir / REPORT):
            operation("write", path=path)
            path.unlink(missing_ok=True)
        started = start(pool, ctx, {"constitution-suite": SUITE, "assistant-with-constitution": (ASSISTANT,),
                                    "assistant-without-constitution": (ASSISTANT,)}, env,
                        {"assistant-with-constitution": {pytest_plugin.REPORT_VARIABLE: str(plugin_report)},
                         "assistant-without-constitution": {pytest_plugin.SWITCH_VARIABLE: "off"}})
        found_probes = probes(ctx, env)
        runs = finish(started)
        runs.update(rerun_changed(runs, ctx, env, pool))
        # Alone on the machine: the suites above would skew its timings. CPU time, not wall time.
        runs["benchmark"] = run_logged(ctx, "benchmark", (BENCHMARK, "--benchmark-enable", f"--benchmark-json={bench_json}",
                                                          "--benchmark-timer=time.process_time", "--benchmark-disable-gc"), env)
    found: dict[str, Any] = {
        "runs": {name: {"returncode": r.returncode, "seconds": r.seconds, "log": str(log_path(ctx, name)), "counts": r.counts(),
                        "cases": {c.id: [c.outcome, c.message[:500]] for c in r.cases}} for name, r in runs.items()},
        "plugin": json.loads(plugin_report.read_text(encoding="utf-8")) if plugin_report.exists() else None,
        "probes": found_probes,
        "overhead": read_benchmark(bench_json) if bench_json.exists() else None,
        "guard": {"operations": len(guard.operations), "violations": [v.as_dict() for v in guard.violations]},
    }
    (ctx.workdir / REPORT).write_text(json.dumps(found, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for name, run in runs.items():
        ctx.log(f"{name}: {run.summary()} in {run.seconds} s (log: {log_path(ctx, name)})")
    metrics: dict[str, float] = {}
    if found["overhead"]:
        metrics["constitution_overhead_percent"] = found["overhead"]["overhead_percent"]
    if found["plugin"]:
        metrics["constitution_outputs_judged"] = found["plugin"]["outputs_checked"]
    return {"performance_metrics": metrics}


def report(ctx: TaskContext) -> dict[str, Any]:
    """What the action recorded in this run."""
    return json.loads((ctx.workdir / REPORT).read_text(encoding="utf-8"))


def outcomes(run: Mapping[str, Any]) -> dict[str, str]:
    """Case id -> outcome of a recorded run."""
    return {case: value[0] for case, value in run["cases"].items()}


def conftest_hooks(root: Path) -> list[str]:
    """The plugin hooks that tests/assistant/conftest.py imports (read, not imported)."""
    tree = ast.parse((root / CONFTEST).read_text(encoding="utf-8"))
    return sorted(alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                  and node.module == pytest_plugin.__name__ for alias in node.names)


def check_integrated(ctx: TaskContext) -> Check:
    """The conftest wires the plugin in; it judged the whole assistant suite and changed no outcome."""
    data = report(ctx)
    plugin, with_it = data["plugin"], data["runs"]["assistant-with-constitution"]
    without = data["runs"]["assistant-without-constitution"]
    hooks, wanted = conftest_hooks(ctx.root), sorted(n for n in dir(pytest_plugin) if n.startswith("pytest_"))
    unwired = sorted(set(wanted) - set(hooks))
    problems = [f"{CONFTEST} does not import the plugin hooks {unwired}"] if unwired else []
    total = sum(with_it["counts"].values())
    if plugin is None:
        problems.append(f"the plugin wrote no report; the run's log ends:\n{tail(Path(with_it['log']))}")
    elif plugin["tests"] != total or not plugin["outputs_checked"]:
        problems.append(f"the plugin covered {plugin['tests']} of {total} tests and judged {plugin['outputs_checked']} outputs")
    on, off = outcomes(with_it), outcomes(without)
    changed = changed_outcomes(on, off)
    if changed and "rerun-with-constitution" in data["runs"]:
        flaky = set(changed) - set(changed_outcomes(outcomes(data["runs"]["rerun-with-constitution"]),
                                                    outcomes(data["runs"]["rerun-without-constitution"])))
        changed = [case for case in changed if case not in flaky]
        lines_flaky = [f"flaky (differed once, not when run again both ways): {', '.join(sorted(flaky))}"] if flaky else []
    else:
        lines_flaky = []
    if changed:
        problems.append(f"{len(changed)} test(s) end differently with the plugin: "
                        + "; ".join(f"{c}: {off.get(c)} -> {on.get(c)}" for c in changed[:5]))
    lines = [f"{CONFTEST} imports the plugin's {len(hooks)} hooks: {', '.join(hooks)}"]
    if plugin:
        lines.append(f"tests/assistant with the plugin (dspy {plugin['dspy_version']}): {_summary(with_it)}; the plugin judged "
                     f"{plugin['outputs_checked']} outputs of {', '.join(plugin['modules'])} and {plugin['operations_checked']} "
                     f"operations in {plugin['tests']} tests ({plugin['tests_with_outputs']} produced outputs)")
    lines.append(f"the same suite with {pytest_plugin.SWITCH_VARIABLE}=off: {_summary(without)}; "
                 f"{len(on) - len(changed)}/{len(on)} tests end the same way with and without the plugin")
    lines += lines_flaky
    metrics = {"tests_covered": float(plugin["tests"]), "outputs_judged": float(plugin["outputs_checked"])} if plugin else {}
    return (Check.failed if problems else Check.passed)("\n".join(problems + lines), **metrics)


def _summary(run: Mapping[str, Any]) -> str:
    return ", ".join(f"{n} {o}" for o, n in run["counts"].items() if n) or "no tests"


def check_operational(ctx: TaskContext) -> Check:
    """A known-violating output and known-violating operations are caught, under both DSPy versions."""
    problems, lines = [], []
    for where, found in report(ctx)["probes"].items():
        if "error" in found:
            problems.append(f"{where}: the probe failed: {found['error']}")
            continue
        out, ops = found["output"], found["operations"]
        caught = {"output": out["articles"], "announced delete of state.json": ops["announced_delete"],
                  "os.remove(state.json) (audit hook)": ops["unannounced_remove"], "git push --force": ops["force_push"]}
        expected = {"output": ["O1", "O3"], "announced delete of state.json": ["P1"],
                    "os.remove(state.json) (audit hook)": ["P1"], "git push --force": ["P3"]}
        missed = [f"{what}: caught by {caught[what] or 'nothing'}, expected {want}" for what, want in expected.items()
                  if not set(want) <= set(caught[what])]
        if missed or not ops["state_json_kept"] or not out["token_redacted"]:
            problems.append(f"{where} (dspy {found['dspy_version']}): {'; '.join(missed)}; state.json kept: "
                            f"{ops['state_json_kept']}; token redacted in evidence: {out['token_redacted']}")
        lines.append(f"{where} (dspy {found['dspy_version']}): " + "; ".join(f"{w} -> {', '.join(a)}" for w, a in caught.items())
                     + f"; the scratch state.json still exists: {ops['state_json_kept']}; evidence: {out['evidence'][0]}")
    return (Check.failed if problems else Check.passed)("\n".join(problems + lines), probes=float(len(report(ctx)["probes"])))


def check_enhanced(ctx: TaskContext) -> Check:
    """Every assistant test ran constitution-aware; no output or operation broke an article."""
    data = report(ctx)
    plugin, run = data["plugin"], data["runs"]["assistant-with-constitution"]
    if plugin is None:
        return Check.failed(f"no plugin report from the assistant suite; its log ends:\n{tail(Path(run['log']))}")
    by_constitution = [c for c, (outcome, message) in run["cases"].items() if outcome != "passed" and "constitution:" in message]
    others = [c for c, (outcome, _) in run["cases"].items() if outcome in ("failed", "error") and c not in by_constitution]
    applied = ", ".join(f"{aid} {a['applied']}" for aid, a in plugin["articles"].items())
    lines = [f"{plugin['tests']} assistant tests ran under the constitution plugin; {plugin['outputs_checked']} outputs and "
             f"{plugin['operations_checked']} operations judged; articles applied (times): {applied}",
             f"constitution violations: {len(plugin['violations'])}; tests failed by the constitution: {len(by_constitution)}"]
    if others:
        lines.append(f"failing for reasons other than the constitution (the same without the plugin, see the first "
                     f"check): {', '.join(others[:5])}")
    ok = plugin["tests"] > 0 and not plugin["violations"] and not by_constitution
    detail = [str(v) for v in plugin["violations"][:5]]
    return (Check.passed if ok else Check.failed)("\n".join(detail + lines), tests=float(plugin["tests"]),
                                                  violations=float(len(plugin["violations"])))


def check_suite(ctx: TaskContext) -> Check:
    """The constitution suite passed and has a passing compliant and violating case for every article."""
    run = report(ctx)["runs"]["constitution-suite"]
    passed = [c for c, outcome in outcomes(run).items() if outcome == "passed"]
    coverage = {aid: {e: sum(f"::test_article[{aid}-{e}-" in c for c in passed) for e in ("complies", "violates")}
                for aid in default().ids()}
    uncovered = [aid for aid, n in coverage.items() if not (n["complies"] and n["violates"])]
    problems = [f"not green: {_summary(run)} (exit {run['returncode']}); log ends:\n{tail(Path(run['log']))}"] \
        if run["returncode"] != 0 or not passed else []
    if uncovered:
        problems.append(f"articles without a passing compliant and violating case: {', '.join(uncovered)}")
    evidence = (f"{' '.join(SUITE)}: {_summary(run)} in {run['seconds']} s; passing cases per article "
                f"(compliant/violating): " + ", ".join(f"{a} {n['complies']}/{n['violates']}" for a, n in coverage.items()))
    return (Check.failed if problems else Check.passed)("\n".join(problems + [evidence]), passed=float(len(passed)),
                                                        articles=float(len(coverage) - len(uncovered)))


def check_overhead(ctx: TaskContext) -> Check:
    """The benchmark's paired overhead of the constitution over plain, and its noise, under the limit."""
    found = report(ctx)["overhead"]
    if found is None:
        run = report(ctx)["runs"]["benchmark"]
        return Check.failed(f"the benchmark wrote no JSON ({_summary(run)}); log ends:\n{tail(Path(run['log']))}")
    v, limit = found["variants"], MAX_OVERHEAD_PERCENT
    evidence = (f"{BENCHMARK} (pytest-benchmark, timer {found['timer']}, GC off, {v['plain']['rounds']} rounds per variant "
                f"in {v['plain']['blocks']} interleaved blocks; DocsQA answering {found['questions']} questions on the offline "
                f"LM): fastest rounds plain {v['plain']['min_ms']} ms, no-op DSPy callback {v['dspy-callback']['min_ms']} ms, "
                f"constitution {v['constitution']['min_ms']} ms. Overhead (median over blocks of the paired fastest-round "
                f"ratio): {found['overhead_percent']}% +- {found['noise_percent']} (limit {limit}%); a no-op callback, "
                f"DSPy's dispatch alone: {found['dspy_callback_percent']}%; per block: {found['blocks_percent']}")
    ok = found["overhead_percent"] < limit and found["noise_percent"] < limit
    if found["noise_percent"] >= limit:
        evidence += "\nthe measurement is noisier than the limit it checks: run the task again on a quieter machine"
    return (Check.passed if ok else Check.failed)(evidence, overhead_percent=found["overhead_percent"],
                                                  noise_percent=found["noise_percent"],
                                                  dspy_callback_percent=found["dspy_callback_percent"])


def check_documented(ctx: TaskContext) -> Check:
    """docs/constitution.md explains the plugin's use and names every article with its title."""
    path = ctx.root / DOC
    if not path.exists():
        return Check.failed(f"{DOC} does not exist: document the plugin ({', '.join(DOC_TERMS)}) and every article there")
    lines = path.read_text(encoding="utf-8").splitlines()
    missing = [t for t in DOC_TERMS if not any(t in line for line in lines)]
    where = {a.id: next((n for n, line in enumerate(lines, 1) if a.id in line and a.title in line), None)
             for a in default().articles}
    missing += [f"article {aid} with its title" for aid, n in where.items() if n is None]
    if missing:
        return Check.failed(f"{DOC} does not name: {', '.join(missing)}")
    scopes = {s.value: len(default().ids(s)) for s in Scope}
    return Check.passed(f"{DOC}: the plugin's use ({', '.join(DOC_TERMS)}) and all {len(where)} articles "
                        f"({scopes}) with their titles, at lines " + ", ".join(f"{a} {n}" for a, n in where.items()),
                        articles=float(len(where)))


HANDLER = Handler(
    action=action,
    checks={
        "Constitution-aware testing integrated with existing test infrastructure": check_integrated,
        "Constitution compliance validation operational": check_operational,
        "Existing test suites enhanced with constitution-aware checks": check_enhanced,
        "Constitution test suite green with all articles validated": check_suite,
        "Performance impact minimal": check_overhead,
        "Constitution testing integration documented": check_documented,
    },
)
