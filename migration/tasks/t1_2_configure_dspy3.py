"""Task 1.2: configure DSPy 3 in the candidate environment and probe what it offers.

The action makes sure the candidate exists (Task 1.1 built it; this only verifies), then runs
`migration/probes/dspy3.py` inside it: `dspy.configure`, the assertion APIs and their
replacements, MLflow autologging, and the GEPA, SIMBA and MIPROv2 optimizers compiling a
tiny program on DummyLM. The probes' outcomes and timings go to `<workdir>/probes.json`;
each check reads its probe there and reports what was measured.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from gitops.handlers import Check, Handler, TaskContext
from migration.environments.environment import Environment
from migration.environments.sides import CANDIDATE, VERSIONS
from migration.probes import dspy3 as dspy3_probes

PROBES = ("configure", "assertions", "mlflow", "gepa", "simba", "miprov2")
OPTIMIZERS = ("gepa", "simba", "miprov2")
REPORT = "probes.json"


def candidate(ctx: TaskContext) -> Environment:
    return Environment(CANDIDATE, ctx.root, ctx.environ)


def action(ctx: TaskContext) -> Mapping[str, Any]:
    """Verify the candidate's install, run every probe in it, keep the report."""
    env = candidate(ctx)
    setup = env.create(VERSIONS[CANDIDATE])
    ctx.log(f"{env.path}: {'verified' if setup.reused else 'created'} in {setup.seconds:.1f} s")
    store = ctx.workdir / "probe-mlflow.db"
    store.unlink(missing_ok=True)
    results = env.json([dspy3_probes.__file__, *PROBES], env={"PROBE_MLFLOW_URI": f"sqlite:///{store}"})
    (ctx.workdir / REPORT).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for name, result in results.items():
        ctx.log(f"probe {name}: {'ok' if result['ok'] else 'FAILED: ' + result.get('error', '')} ({result['seconds']} s)")
    return {"performance_metrics": {f"dspy3_probe_{name}_seconds": r["seconds"] for name, r in results.items()}}


def probe(ctx: TaskContext, name: str) -> dict[str, Any]:
    return json.loads((ctx.workdir / REPORT).read_text(encoding="utf-8"))[name]


def failed_probe(name: str, result: Mapping[str, Any]) -> Check:
    detail = result.get("error") or json.dumps({k: v for k, v in result.items() if k != "traceback"})
    return Check.failed(f"probe {name} failed: {detail}\n{result.get('traceback', '')}".rstrip())


def check_installed(ctx: TaskContext) -> Check:
    """The candidate imports dspy 3.0.x from its own prefix and `uv pip check` is clean."""
    env = candidate(ctx)
    seen = env.inspect()
    consistent, output = env.check()
    evidence = (f"{env.python}: dspy.__version__ == {seen['dspy_version']} from {seen['dspy_file']}; "
                f"`uv pip check`: {output.splitlines()[-1]}")
    ok = seen["dspy_version"].startswith("3.0.") and seen["dspy_file"].startswith(seen["prefix"]) and consistent
    return (Check.passed if ok else Check.failed)(evidence)


def check_configured(ctx: TaskContext) -> Check:
    result = probe(ctx, "configure")
    if not result["ok"]:
        return failed_probe("configure", result)
    return Check.passed(
        f"candidate subprocess: dspy.configure(lm=DummyLM) -> dspy.settings.lm is that LM: {result['configured']}; "
        f"Predict answered {result['answer']!r} with {result['lm_calls']} LM call through {result['adapter']} "
        f"({result['seconds']} s)", seconds=result["seconds"])


def check_assertions(ctx: TaskContext) -> Check:
    result = probe(ctx, "assertions")
    if not result["ok"]:
        return failed_probe("assertions", result)
    return Check.passed(
        f"candidate: absent from dspy: {', '.join(result['absent'])}; present: {', '.join(result['present'])}; "
        f"each replacement ran (N=2, reward exact match, threshold 1.0) and answered {result['answers']} "
        f"({result['seconds']} s)", absent=len(result["absent"]), present=len(result["present"]))


def check_mlflow(ctx: TaskContext) -> Check:
    result = probe(ctx, "mlflow")
    if not result["ok"]:
        return failed_probe("mlflow", result)
    return Check.passed(
        f"candidate: mlflow {result['mlflow_version']}; mlflow.dspy.autolog() traced a Predict call into "
        f"{ctx.workdir / 'probe-mlflow.db'} with spans {', '.join(result['trace_spans'])} ({result['seconds']} s)",
        spans=len(result["trace_spans"]), seconds=result["seconds"])


def check_optimizers(ctx: TaskContext) -> Check:
    """GEPA (with a DummyLM reflection LM), SIMBA and MIPROv2 each compiled a Predict."""
    results = {name: probe(ctx, name) for name in OPTIMIZERS}
    broken = [name for name, result in results.items() if not result["ok"]]
    if broken:
        return failed_probe(broken[0], results[broken[0]])
    gepa, simba, mipro = (results[n] for n in OPTIMIZERS)
    evidence = (
        f"GEPA(max_metric_calls={gepa['budget']}, reflection_lm=DummyLM): compiled; {gepa['metric_calls']} metric calls "
        f"(the budget is soft), {gepa['reflection_calls']} reflection LM call(s), {gepa['seconds']} s\n"
        f"SIMBA(bsize=2, num_candidates=2, max_steps=1): compiled; {simba['metric_calls']} metric calls, "
        f"{simba['lm_calls']} LM calls, {simba['seconds']} s\n"
        f"MIPROv2(auto=None, num_candidates=2), compile(num_trials=2, {', '.join(mipro['options'])}): compiled; "
        f"{mipro['metric_calls']} metric calls, {mipro['lm_calls']} LM calls, {mipro['seconds']} s\n"
        f"each compiled program answered {[results[n]['answer'] for n in OPTIMIZERS]}"
    )
    return Check.passed(evidence, gepa_metric_calls=gepa["metric_calls"], gepa_reflection_calls=gepa["reflection_calls"],
                        **{f"{n}_seconds": results[n]["seconds"] for n in OPTIMIZERS})


HANDLER = Handler(
    action=action,
    checks={
        "DSPy 3.0 successfully installed in test environment": check_installed,
        "Basic configuration validated": check_configured,
        "Removed assertion APIs absent": check_assertions,
        "MLflow integration capabilities verified": check_mlflow,
        "Enhanced optimization features tested": check_optimizers,
    },
)
