"""Task 2.2: run every assistant module under DSPy 2.6.27 and 3.0.1 and record every difference.

The action runs `migration/probes/compat.py` and the assistant's own test suite in both
environments of Task 1.1 (four subprocesses at once), compares the results with
`migration.evidence.compat_diff`, writes `<workdir>/compatibility.json` and docs/compatibility.md,
and returns the issues for `state.json` `compatibility_issues`. Each check reads that
record: a check fails when its part failed under 3.0.1 or changed behaviour (an issue of
severity high or medium); form-only differences (low) pass and are named in the evidence.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Mapping

from gitops.handlers import Check, Handler, TaskContext
from migration.environments.environment import Environment, SetupError
from migration.environments.pytest_run import run_pytest
from migration.environments.pytest_tools import ensure_test_tools
from migration.environments.sides import CANDIDATE, PRODUCTION, SIDES, VERSIONS, ready_environments
from migration.evidence import compat_report
from migration.evidence.compat_diff import COMPONENTS, compare, counts
from migration.probes import compat as compat_probe

RECORD = "compatibility.json"
DOC = Path("docs") / "compatibility.md"
SUITE = Path("tests") / "assistant"
FAILING = ("high", "medium")


def run_suite(env: Environment, suite: Path, junit: Path) -> dict[str, Any]:
    """Run a test folder in `env`; the JUnit record plus the exit status and the output's last line."""
    run = run_pytest([str(suite), "-q"], junit, env=env)
    if not run.reported:
        raise SetupError(f"pytest in {env.name} wrote no report (exit {run.returncode}):\n{(run.stderr + run.stdout)[-3000:]}")
    return {**run.as_record(), "exit_status": run.returncode, "tail": run.stdout.strip().splitlines()[-1:]}


def action(ctx: TaskContext) -> Mapping[str, Any]:
    """Probe both environments and run the test suite in both, compare, write the record and the report."""
    envs = ready_environments(ctx)
    for env in envs.values():
        ensure_test_tools(env)
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    jobs: dict[tuple[str, str], Callable[[], Any]] = {}
    for name, env in envs.items():
        jobs[("probe", name)] = lambda env=env: env.json([compat_probe.__file__, str(ctx.root.resolve())], timeout=300)
        jobs[("tests", name)] = lambda env=env, name=name: run_suite(env, ctx.root / SUITE, ctx.workdir / f"junit-{name}.xml")
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {key: pool.submit(job) for key, job in jobs.items()}
        results = {key: future.result() for key, future in futures.items()}
    issues = write_record(ctx, {n: results[("probe", n)] for n in SIDES}, {n: results[("tests", n)] for n in SIDES})
    ctx.log(f"{len(issues)} compatibility issue(s): {counts(issues)}; report: {DOC}")
    return {"compatibility_issues": issues}


def write_record(ctx: TaskContext, probes: Mapping[str, Any], tests: Mapping[str, Any]) -> list[dict[str, str]]:
    """Compare what was measured; write `<workdir>/compatibility.json` and docs/compatibility.md; return the issues."""
    issues = compare(probes[PRODUCTION], probes[CANDIDATE], tests, SUITE.as_posix())
    record = {"versions": {n: probes[n]["dspy_version"] for n in SIDES}, "probes": probes, "tests": tests, "issues": issues}
    (ctx.workdir / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (ctx.root / DOC).parent.mkdir(parents=True, exist_ok=True)
    (ctx.root / DOC).write_text(compat_report.render(probes, tests, issues, SUITE.as_posix()), encoding="utf-8")
    return issues


def record(ctx: TaskContext) -> dict[str, Any]:
    """What this run's action measured."""
    return json.loads((ctx.workdir / RECORD).read_text(encoding="utf-8"))


def issues_of(found: dict[str, Any], module: str, kinds: tuple[str, ...] | None = None) -> list[dict[str, str]]:
    """The recorded issues of one module (of the given kinds)."""
    return [i for i in found["issues"] if i["module"] == module and (kinds is None or i["kind"] in kinds)]


def verdict(issues: list[dict[str, str]], lines: list[str], **metrics: float) -> Check:
    """Fail on any high or medium issue; the issues' details lead the evidence."""
    bad = [i for i in issues if i["severity"] in FAILING]
    named = [f"[{i['severity']}] {i['detail']} ({i['evidence']})" for i in issues]
    return (Check.failed if bad else Check.passed)("\n".join(named + lines), issues=len(issues), **metrics)


def part(found: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    """A part's outcomes under both versions (a stand-in failure when it was not probed)."""
    return {side: found["probes"][side][section].get(name) or {"ok": False, "error": "not probed", "seconds": 0}
            for side in SIDES}


def ran(outcomes: dict[str, Any]) -> str:
    """'dspy 2.6.27: ran in 0.1 s; dspy 3.0.1: FAILED ...' for a part's outcomes."""
    return "; ".join(f"dspy {VERSIONS[s]}: " + (f"ran in {o['seconds']} s" if o["ok"] else f"FAILED {o.get('error')}")
                     for s, o in outcomes.items())


def check_imports(ctx: TaskContext) -> Check:
    """Every `assistant` module imports under the candidate (and under production, for reference)."""
    found = record(ctx)
    imports = {side: found["probes"][side]["imports"] for side in SIDES}
    broken = {side: [n for n, o in imports[side].items() if not o["ok"]] for side in SIDES}
    slowest = max(imports[CANDIDATE].items(), key=lambda item: item[1]["seconds"])
    lines = [f"dspy {VERSIONS[s]}: {len(imports[s]) - len(broken[s])}/{len(imports[s])} assistant modules imported"
             + (f"; FAILED: {', '.join(broken[s])}" if broken[s] else "") for s in SIDES]
    lines.append(f"modules: {', '.join(imports[CANDIDATE])}; slowest under 3.0.1: {slowest[0]} "
                 f"({slowest[1]['seconds']} s, the first to import dspy)")
    issues = [i for i in found["issues"] if i["kind"] in ("import", "warning")]
    return verdict(issues, lines, modules=len(imports[CANDIDATE]), failed=len(broken[CANDIDATE]))


def check_schema(ctx: TaskContext) -> Check:
    """Fields, instructions, parses and zero-shot prompts identical; module outputs and LM prompts identical."""
    found = record(ctx)
    names = sorted(found["probes"][CANDIDATE]["signatures"])
    modules = sorted(found["probes"][CANDIDATE]["modules"])
    issues = [i for n in names + modules for i in issues_of(found, n)]
    lines = [f"{len(names)} signatures compared ({', '.join(n.rsplit('.', 1)[1] for n in names)}): fields, instructions, "
             f"the ChatAdapter prompt for fixed inputs with 0 and 2 demos (byte diff) and the parse of a fixed completion"]
    for name in names:
        outcome = found["probes"][CANDIDATE]["signatures"][name]
        if outcome["ok"]:
            zero = "".join(m["content"] for m in outcome["result"]["prompts"]["zero_shot"]).encode()
            lines.append(f"{name.rsplit('.', 1)[1]}: {len(outcome['result']['fields'])} fields; zero-shot prompt {len(zero)} bytes")
    for name in modules:
        outcomes = part(found, "modules", name)
        calls = len((outcomes[CANDIDATE].get("result") or {}).get("lm_calls", []))
        lines.append(f"{name} run with ExtractiveLM ({calls} LM call(s)): {ran(outcomes)}; output and prompts compared")
    return verdict(issues, lines, signatures=len(names), modules=len(modules))


def component_check(name: str, describe: Callable[[dict[str, Any]], str], also: tuple[str, ...] = ()) -> Callable[[TaskContext], Check]:
    """A check of one probe component (and of the assistant modules named in `also`)."""
    module = COMPONENTS[name][0]

    def check(ctx: TaskContext) -> Check:
        found = record(ctx)
        outcomes = part(found, "components", name)
        lines = [f"{COMPONENTS[name][1]}: {ran(outcomes)}"]
        seen = {side: describe(o["result"]) for side, o in outcomes.items() if o["ok"]}
        if len(seen) == 2 and len(set(seen.values())) == 1:
            seen = {"both versions": seen[CANDIDATE]}
        lines += [f"{side}: {text}" for side, text in seen.items()]
        issues = issues_of(found, module, ("output", "error", "missing", "prompt"))
        for extra in also:
            lines.append(f"{extra}: {ran(part(found, 'modules', extra))}")
            issues += issues_of(found, extra)
        if not outcomes[CANDIDATE]["ok"]:
            return Check.failed("\n".join(lines))
        return verdict(issues, lines)

    check.__doc__ = f"The {COMPONENTS[name][1]} ran under both versions with equal results."
    return check


def describe_switcher(result: dict[str, Any]) -> str:
    """The ModelSwitcher probe's result in words."""
    return (f"routes {result['labels']}; default with no GITOPS_LM: {result['default_is_offline']}; use() sets the LM: "
            f"{result['use_sets_lm']}, restores it: {result['use_restores_lm']}; two threads at once saw {result['threads']}")


def describe_optimization(result: dict[str, Any]) -> str:
    """The optimization probe's scores in words."""
    return (f"answer_f1 {result['baseline']['answer_f1']} -> {result['optimized']['answer_f1']} (gain {result['gain']} points) "
            f"after BootstrapFewShot, demos {result['demos']}")


def describe_dashboard(result: dict[str, Any]) -> str:
    """The dashboard probe's PNG and table in words."""
    return (f"PNG {result['png_size'][0]}x{result['png_size'][1]} (sha256 {result['png_sha']}), table of "
            f"{len(result['table']) - 2} rows: {result['table'][2:]}")


def describe_roles(result: dict[str, Any]) -> str:
    """The role refinement probe's changes in words."""
    changes = [f"{c['role']} v{c['versions'][0]} -> v{c['versions'][1]}" for c in result["changes"]]
    return f"rewritten: {changes}; kept: {result['kept']}"


def describe_integration(result: dict[str, Any]) -> str:
    """The integration probe's answers in words."""
    return "; ".join(f"ask as {a['role']} -> {a['answer']!r} from {a['sources'][:1]} by {a['lm']}" for a in result["answers"]) \
        + f"; {result['events_recorded']} memory events recorded"


def check_integration(ctx: TaskContext) -> Check:
    """Assistant.from_repo(...).ask under both versions, and the assistant's test suite in both environments."""
    component = component_check("integration", describe_integration)(ctx)
    found = record(ctx)
    tests = found["tests"]
    lines = [f"{SUITE.as_posix()} in .venvs/{side} (dspy {VERSIONS[side]}): {t['passed']}/{t['tests']} passed, "
             f"{len(t['failed'])} failed, {t['skipped']} skipped; {' '.join(t['tail'])}" for side, t in tests.items()]
    suite = issues_of(found, SUITE.as_posix())
    bad = component.status.value == "failed" or any(i["severity"] in FAILING for i in suite)
    named = [f"[{i['severity']}] {i['detail']}: {i['evidence']}" for i in suite]
    return (Check.failed if bad else Check.passed)("\n".join([component.evidence, *named, *lines]),
                                                    tests_passed=tests[CANDIDATE]["passed"], tests_failed=len(tests[CANDIDATE]["failed"]))


def check_documented(ctx: TaskContext) -> Check:
    """docs/compatibility.md exists and lists every issue this run recorded."""
    path = ctx.root / DOC
    if not path.exists():
        return Check.failed(f"{DOC} does not exist: the action writes it (re-run Task 2.2)")
    text = path.read_text(encoding="utf-8")
    issues = record(ctx)["issues"]
    missing = [i["detail"] for i in issues if i["detail"] not in text or i["evidence"] not in text]
    if missing:
        return Check.failed(f"{DOC} misses {len(missing)} of {len(issues)} recorded issues, e.g. {missing[0]!r}")
    return Check.passed(f"{DOC} ({len(text.splitlines())} lines) lists all {len(issues)} recorded issues with their evidence: "
                        f"{counts(issues)}", issues=len(issues))


HANDLER = Handler(
    action=action,
    checks={
        "All existing DSPy modules import successfully with DSPy 3.0": check_imports,
        "Schema compatibility confirmed": check_schema,
        "ModelSwitcher functionality validated": component_check("model_switcher", describe_switcher),
        "Optimization loop components tested": component_check("optimization", describe_optimization),
        "Metrics dashboard compatibility verified": component_check("dashboard", describe_dashboard),
        "Role refinement system tested": component_check("role_refinement", describe_roles, ("assistant.role_refinement.RoleRefiner",)),
        "System integration components validated": check_integration,
        "Compatibility issues documented": check_documented,
    },
)
