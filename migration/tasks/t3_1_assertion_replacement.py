"""Task 3.1: the custom assertion framework replaced by dspy.BestOfN reward functions, measured.

The baseline is the framework and its call sites as committed in 0a93571, recorded verbatim
in tests/data/assertions_baseline (tests/assistant/baseline.py loads it). The action
inventories it, measures complexity before and after with radon, runs the behaviour tests
(which run old and new side by side) in both environments of Task 1.1 at once, then the
old-against-new benchmark in each, and keeps everything in `<workdir>/assertions.json`.
"""

from __future__ import annotations

import ast
import json
import re
import statistics
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gitops.handlers import Check, Handler, TaskContext
from migration.environments.environment import Environment
from migration.environments.pytest_run import run_pytest
from migration.environments.sides import SIDES, VERSIONS
from migration.evidence import complexity

RECORD = "assertions.json"
BASELINE = Path("tests") / "data" / "assertions_baseline"
BASELINE_FILES = ("assertions.py", "qa.py", "role_refinement.py")
CURRENT_FILES = ("assertions.py", "rewards.py", "validation.py", "qa.py", "role_refinement.py")
CALL_SITES = ("qa.py", "role_refinement.py")
DOC = Path("docs") / "assertions.md"
TESTS = tuple(
    f"tests/assistant/{name}"
    for name in (
        "test_assertions.py",
        "test_validation.py",
        "test_qa.py",
        "test_role_refinement.py",
        "test_validation_bench.py",
    )
)
BENCH = "tests/assistant/test_validation_bench.py"
NATIVE_TESTS = (
    "test_the_reward_drives_dspy_best_of_n_directly",
    "test_the_reward_drives_dspy_refine_which_asks_the_lm_for_advice",
    "test_validated_calls_run_on_best_of_n",
)
PAIRED = re.compile(r"[\[-]baseline[\]-]")  # a test id run against the old framework (its twin: "shim")
TOLERANCE = 10.0  # percent a validated call may take longer than with the custom framework
FRAMEWORK = "framework"  # the benchmark scenario without an LM: reported, not compared


def inventory(root: Path) -> dict[str, Any]:
    """The baseline framework's public names and the functions that call it, with line numbers."""
    framework = ast.parse((root / BASELINE / "assertions.py").read_text(encoding="utf-8"))
    names = {
        n.name: n.lineno
        for n in framework.body
        if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and not n.name.startswith("_")
    }
    sites = []
    for name in CALL_SITES:
        tree = ast.parse((root / BASELINE / name).read_text(encoding="utf-8"))
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            for method in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
                calls = [
                    c
                    for c in ast.walk(method)
                    if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "run_with_validation"
                ]
                sites += [f"assistant/{name}:{c.lineno} {cls.name}.{method.name}" for c in calls]
    return {"names": names, "call_sites": sites}


def measure(root: Path) -> dict[str, Any]:
    """radon CC and LLOC of the baseline and the current files, per file and in total."""
    before = complexity.measure_all({n: (root / BASELINE / n).read_text(encoding="utf-8") for n in BASELINE_FILES})
    after = complexity.measure_all({n: (root / "assistant" / n).read_text(encoding="utf-8") for n in CURRENT_FILES})
    totals = (complexity.total(before), complexity.total(after))
    return {
        "before": {n: c.as_dict() for n, c in before.items()},
        "after": {n: c.as_dict() for n, c in after.items()},
        "total_before": totals[0].as_dict(),
        "total_after": totals[1].as_dict(),
        "reduction": complexity.reduction(*totals),
    }


def run_tests(env: Environment, workdir: Path, args: list[str], tag: str) -> dict[str, Any]:
    """pytest `args` in `env`; the JUnit summary with the names of the tests that passed."""
    run = run_pytest([*args, "-q"], workdir / f"junit-{tag}-{env.name}.xml", env=env, timeout=300)
    if not run.reported:
        return {
            "tests": 0,
            "passed": 0,
            "failed": [f"pytest wrote no report (exit {run.returncode})"],
            "messages": {"pytest": (run.stderr + run.stdout)[-2000:]},
            "passed_names": [],
        }
    return {**run.as_record(), "passed_names": [c.name for c in run.cases if c.outcome == "passed"]}


def benchmark(env: Environment, root: Path, workdir: Path) -> dict[str, Any]:
    """Old and new validated calls in one pytest-benchmark run, in interleaved blocks: per scenario
    the median of the blocks' medians (seconds) of each, and the median of the blocks' new/old ratios."""
    output = workdir / f"benchmark-{env.name}.json"
    output.unlink(missing_ok=True)
    run_pytest(
        [
            str(root / BENCH),
            "-q",
            "-k",
            "test_validated_call",
            "--benchmark-enable",
            "--benchmark-max-time=0.1",
            "--benchmark-min-rounds=7",
            "--benchmark-disable-gc",
            f"--benchmark-json={output}",
        ],
        env=env,
        timeout=300,
    )
    blocks: dict[str, dict[int, dict[str, float]]] = {}
    for bench in json.loads(output.read_text(encoding="utf-8"))["benchmarks"] if output.exists() else []:
        info = bench["extra_info"]
        blocks.setdefault(info["scenario"], {}).setdefault(info.get("block", 1), {})[info["kind"]] = bench["stats"]["median"]
    return {scenario: paired(by_block) for scenario, by_block in blocks.items()}


def paired(by_block: Mapping[int, Mapping[str, float]]) -> dict[str, float]:
    """{old, new, ratio, blocks}: medians over the blocks that measured both kinds."""
    both = [b for b in by_block.values() if {"old", "new"} <= set(b)]
    if not both:
        return {}
    return {"old": statistics.median(b["old"] for b in both), "new": statistics.median(b["new"] for b in both),
            "ratio": statistics.median(b["new"] / b["old"] for b in both), "blocks": len(both)}


def action(ctx: TaskContext) -> Mapping[str, Any]:
    """Inventory, measure, test in both environments, benchmark; keep the record."""
    envs = {name: Environment(name, ctx.root, ctx.environ) for name in SIDES}
    for name, env in envs.items():
        setup = env.create(VERSIONS[name])
        ctx.log(f"{env.path}: {'verified' if setup.reused else 'built'} in {setup.seconds:.1f} s")
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"inventory": inventory(ctx.root), "versions": VERSIONS}
    try:
        record["complexity"] = measure(ctx.root)
    except ImportError as exc:
        record["complexity"] = {"error": f"radon is not installed ({exc}): `pip install radon==6.0.1`"}
    with ThreadPoolExecutor(max_workers=len(envs)) as pool:
        tests = [str(ctx.root / path) for path in TESTS]  # pytest runs in the environment's folder
        futures = {n: pool.submit(run_tests, env, ctx.workdir, tests, "behaviour") for n, env in envs.items()}
        record["tests"] = {n: f.result() for n, f in futures.items()}
    record["benchmark"] = {
        n: benchmark(env, ctx.root, ctx.workdir) for n, env in envs.items()
    }  # one at a time: less noise
    (ctx.workdir / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    metrics = {f"assertions_{k}_reduction_percent": v for k, v in record["complexity"].get("reduction", {}).items()}
    for side, scenarios in record["benchmark"].items():
        metrics.update(
            {
                f"assertions_{side}_{s}_new_over_old": round(m["ratio"], 3)
                for s, m in scenarios.items()
                if {"old", "new"} <= set(m)
            }
        )
    return {"performance_metrics": metrics}


def record(ctx: TaskContext) -> dict[str, Any]:
    """What the action recorded in this run."""
    return json.loads((ctx.workdir / RECORD).read_text(encoding="utf-8"))


def check_documented(ctx: TaskContext) -> Check:
    """docs/assertions.md names every public part of the old framework and both call sites."""
    found = record(ctx)["inventory"]
    text = (ctx.root / DOC).read_text(encoding="utf-8") if (ctx.root / DOC).exists() else ""
    terms = [*found["names"], *(site.split()[-1] for site in found["call_sites"])]
    missing = [t for t in terms if t not in text]
    parts = ", ".join(f"{n} (assertions.py:{line})" for n, line in found["names"].items())
    evidence = f"baseline {BASELINE}/assertions.py: {parts}; call sites: {', '.join(found['call_sites'])}"
    if missing or len(found["call_sites"]) < len(CALL_SITES):
        return Check.failed(f"{evidence}; {DOC} does not name: {', '.join(missing) or '(call sites not found)'}")
    return Check.passed(
        f"{evidence}; all named in {DOC}", names=len(found["names"]), call_sites=len(found["call_sites"])
    )


def _failed_tests(tests: Mapping[str, Any]) -> list[str]:
    return [
        f"{side}: {name}: {result['messages'].get(name, '')}"
        for side, result in tests.items()
        for name in result["failed"]
    ]


def check_native(ctx: TaskContext) -> Check:
    """reward() drives dspy.BestOfN and dspy.Refine, and the call sites run on BestOfN, in both versions."""
    tests = record(ctx)["tests"]
    source = (ctx.root / "assistant" / "validation.py").read_text(encoding="utf-8")
    uses = [
        f"assistant/validation.py:{n.lineno}"
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Attribute) and n.attr == "BestOfN" and getattr(n.value, "id", "") == "dspy"
    ]
    missing = {side: [t for t in NATIVE_TESTS if t not in result["passed_names"]] for side, result in tests.items()}
    evidence = (
        f"assistant.rewards.reward(validators) -> reward_fn; dspy.BestOfN built at {', '.join(uses) or 'nowhere'}; "
        + "; ".join(
            f"{side} (DSPy {VERSIONS[side]}): {', '.join(t for t in NATIVE_TESTS if t not in missing[side])} passed"
            for side in tests
        )
    )
    if not uses or any(missing.values()):
        return Check.failed(f"{evidence}; not passed: {missing}")
    return Check.passed(evidence, native_tests=len(NATIVE_TESTS) * len(tests))


def check_preserved(ctx: TaskContext) -> Check:
    """The behaviour tests (old and new side by side) and the call-site tests pass in both versions."""
    tests = record(ctx)["tests"]
    lines = [
        f"{side} (DSPy {VERSIONS[side]}): {r['passed']} passed, {len(r['failed'])} failed, {r['skipped']} skipped "
        f"of {r['tests']} in {', '.join(TESTS)}"
        for side, r in tests.items()
    ]
    failed = _failed_tests(tests)
    paired = {side: sum(1 for n in r["passed_names"] if PAIRED.search(n)) for side, r in tests.items()}
    lines.append(
        "tests run against the baseline framework and the shim alike: "
        + ", ".join(f"{side} {n} baseline + {n} shim" for side, n in paired.items())
    )
    if failed or not all(r["tests"] for r in tests.values()):
        return Check.failed("\n".join([*lines, *failed[:10]]))
    return Check.passed("\n".join(lines), **{f"{side}_passed": r["passed"] for side, r in tests.items()})


def check_performance(ctx: TaskContext) -> Check:
    """Passes if no validated call's new median is more than TOLERANCE over the old one, in both versions.

    The "framework" scenario (no LM: the framework's own cost) is reported in microseconds
    but not compared: BestOfN's fixed cost per call is tens of microseconds, a large ratio
    over nothing and nothing beside an LM call.
    """
    bench = record(ctx)["benchmark"]
    rows, slower = [], []
    for side, scenarios in bench.items():
        for scenario, m in sorted(scenarios.items()):
            if not m:
                continue
            ratio = m["ratio"]
            if scenario == FRAMEWORK:
                rows.append(f"{side} {scenario} (no LM, not compared): {(m['new'] - m['old']) * 1e6:+.0f} us per call")
                continue
            rows.append(
                f"{side} {scenario}: old {m['old'] * 1e6:.0f} us, new {m['new'] * 1e6:.0f} us, "
                f"new/old {ratio:.3f} (median of {m['blocks']} blocks' ratios)"
            )
            slower += [f"{side} {scenario} ({ratio:.3f})"] if ratio > 1 + TOLERANCE / 100 else []
    compared = [s for scenarios in bench.values() for s, m in scenarios.items() if s != FRAMEWORK and m]
    if not compared:
        return Check.failed(f"no benchmark results in {ctx.workdir}: see benchmark-*.json")
    evidence = (
        f"pytest-benchmark, old and new interleaved in blocks in one run per environment "
        f"(tolerance {TOLERANCE:.0f}%):\n"
        + "\n".join(rows)
    )
    if slower:
        return Check.failed(f"{evidence}\nslower than the custom framework beyond {TOLERANCE:.0f}%: {', '.join(slower)}")
    return Check.passed(evidence, scenarios_compared=len(compared))


def _change(reduction: float) -> str:
    return f"{abs(reduction):.1f}% {'less' if reduction >= 0 else 'more'}"


def retry_loops(source: str) -> list[str]:
    """Where `source` loops in a function that calls an attempt: a hand-written retry loop."""
    found = []
    for function in (n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)):
        loops = [n for n in ast.walk(function) if isinstance(n, (ast.For, ast.While))]
        calls_attempt = any(
            isinstance(n, ast.Call) and getattr(n.func, "id", "") == "attempt" for n in ast.walk(function)
        )
        found += [f"{function.name} (line {loop.lineno})" for loop in loops] if calls_attempt else []
    return found


def check_complexity(ctx: TaskContext) -> Check:
    """radon CC and LLOC before and after are measured and reported; no hand-written retry loop is left."""
    found = record(ctx)["complexity"]
    if "error" in found:
        return Check.failed(found["error"])
    before, after, cut = found["total_before"], found["total_after"], found["reduction"]
    per_file = "; ".join(
        f"{side} {name}: CC {c['cc']}, LLOC {c['lloc']}" for side in ("before", "after") for name, c in found[side].items()
    )
    source = (ctx.root / "assistant" / "validation.py").read_text(encoding="utf-8")
    loops = retry_loops(source)
    evidence = (
        f"radon over the framework and its call sites: CC {before['cc']} -> {after['cc']} ({_change(cut['cc'])}), "
        f"LLOC {before['lloc']} -> {after['lloc']} ({_change(cut['lloc'])}). {per_file}. "
        + (
            f"Hand-written retry loops left in assistant/validation.py: {', '.join(loops)}"
            if loops
            else "assistant/validation.py has no retry loop of its own: dspy.BestOfN makes the attempts"
        )
    )
    verdict = Check.failed if loops else Check.passed
    return verdict(evidence, cc_reduction_percent=cut["cc"], lloc_reduction_percent=cut["lloc"])


HANDLER = Handler(
    action=action,
    checks={
        "Custom assertion framework identified and documented": check_documented,
        "Native `dspy.Refine` / `dspy.BestOfN` reward functions implemented": check_native,
        "All existing assertion functionality preserved": check_preserved,
        "Validated calls no slower than with the custom framework": check_performance,
        "Code complexity measured before and after": check_complexity,
    },
)
