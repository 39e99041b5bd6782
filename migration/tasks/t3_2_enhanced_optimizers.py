"""Task 3.2: GEPA, SIMBA and MIPROv2 beside BootstrapFewShot, compared on the held-out dev set.

The action runs `migration/probes/optimizers.py` in both environments of Task 1.1 at once:
in the candidate (DSPy 3.0.1) every optimizer through `assistant.optimization.optimize`,
with a small budget of metric calls; in production (2.6.27) the existing loop and GEPA,
which must refuse. It keeps the record in `<workdir>/optimizers.json`, writes the score
table into docs/optimizers.md and returns the scores for state.json. With the offline LM
the comparison is recorded but cannot show a real improvement: that criterion is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gitops.handlers import Check, Handler, TaskContext
from migration.environments.environment import Environment, write_if_changed
from migration.environments.sides import CANDIDATE, PRODUCTION, VERSIONS
from migration.evidence.optimizer_report import DOC, render_table, replace_section
from migration.probes import optimizers as optimizer_probes

RECORD = "optimizers.json"
NEW = ("gepa", "simba", "miprov2")
OPTIMIZERS = ("bootstrap", *NEW)
DEFAULT_BUDGET = 24  # metric calls per optimizer: enough to run each, small enough for < 90 s
TARGET = (15.0, 25.0)  # the task list's "15-25% performance improvement", relative to the baseline
MAIN_METRIC = "answer_f1"


def budget(ctx: TaskContext) -> int:
    """Metric calls per optimizer: GITOPS_OPTIMIZER_BUDGET, else DEFAULT_BUDGET."""
    return int(ctx.environ.get("GITOPS_OPTIMIZER_BUDGET") or DEFAULT_BUDGET)


def action(ctx: TaskContext) -> Mapping[str, Any]:
    """Run the comparison in the candidate and the guard and old loop in production; record and document."""
    envs = {name: Environment(name, ctx.root, ctx.environ) for name in (CANDIDATE, PRODUCTION)}
    for name, env in envs.items():
        setup = env.create(VERSIONS[name])
        ctx.log(f"{env.path}: {'verified' if setup.reused else 'built'} in {setup.seconds:.1f} s")
    plans = {CANDIDATE: [*OPTIMIZERS, "workflow"], PRODUCTION: ["workflow", "gepa"]}
    args = {name: [optimizer_probes.__file__, str(ctx.root.resolve()), str(budget(ctx)), *plans[name]] for name in envs}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(envs[name].json, args[name], None, 300) for name in envs}
        record = {name: future.result() for name, future in futures.items()}
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    (ctx.workdir / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    doc = ctx.root / DOC
    changed = write_if_changed(doc, replace_section(doc.read_text(encoding="utf-8"), render_table(record[CANDIDATE])))
    ctx.log(f"{DOC}: {'updated' if changed else 'unchanged'}")
    candidate = record[CANDIDATE]
    metrics = {f"optimizer_baseline_{MAIN_METRIC}": candidate["baseline"]["metrics"][MAIN_METRIC]}
    for name, outcome in candidate["optimizers"].items():
        if outcome["ok"] and name in OPTIMIZERS:
            metrics[f"optimizer_{name}_{MAIN_METRIC}"] = outcome["metrics"][MAIN_METRIC]
            metrics[f"optimizer_{name}_metric_calls"] = outcome["metric_calls"]
            metrics[f"optimizer_{name}_seconds"] = outcome["seconds"]
    return {"performance_metrics": metrics}


def record(ctx: TaskContext) -> dict[str, Any]:
    """What the action recorded in this run."""
    return json.loads((ctx.workdir / RECORD).read_text(encoding="utf-8"))


def _failure(side: str, name: str, outcome: Mapping[str, Any]) -> Check:
    return Check.failed(f"{side}: {name} failed: {outcome.get('error')}\n{outcome.get('traceback', '')}".rstrip())


def _line(name: str, outcome: Mapping[str, Any], base: float, planned: int) -> str:
    score = outcome["metrics"][MAIN_METRIC]
    return (
        f"{name}: dev {MAIN_METRIC} {score:.2f} (baseline {base:.2f}, {score - base:+.2f} points); "
        f"{outcome['metric_calls']} metric calls for a budget of {planned}; {outcome['optimizer_lm_calls']} "
        f"optimization-LM calls; demos {outcome['demos']}; instructions changed: {outcome['instructions_changed']}; "
        f"{outcome['seconds']} s"
    )


def check_new_optimizers(ctx: TaskContext) -> Check:
    """GEPA (with its reflection LM), SIMBA and MIPROv2 each optimized DocsQA in the candidate."""
    candidate = record(ctx)[CANDIDATE]
    outcomes = candidate["optimizers"]
    for name in NEW:
        if not outcomes[name]["ok"]:
            return _failure(CANDIDATE, name, outcomes[name])
    reflections = outcomes["gepa"]["optimizer_lm_calls"]
    base = candidate["baseline"]["metrics"][MAIN_METRIC]
    lines = [
        f"candidate: DSPy {candidate['dspy_version']}, task LM {candidate['lm']}, reflection/proposal LM "
        f"{candidate['optimizer_lm']}; {candidate['train']} train / {candidate['dev']} dev examples",
        *(_line(name, outcomes[name], base, candidate["budget"]) for name in NEW),
        "budgets are soft: every optimizer may overrun its metric-call budget (hard budgets: Task 3.3)",
    ]
    if reflections == 0:
        return Check.failed("\n".join([*lines, "GEPA made no reflection-LM call: its reflection_lm was never used"]))
    return Check.passed(
        "\n".join(lines),
        gepa_reflection_calls=reflections,
        **{f"{n}_metric_calls": outcomes[n]["metric_calls"] for n in NEW},
    )


def check_integrated(ctx: TaskContext) -> Check:
    """Every optimizer ran through the one interface; DSPy 2.6.27 refuses GEPA by name."""
    found = record(ctx)
    outcomes = found[CANDIDATE]["optimizers"]
    broken = [name for name in OPTIMIZERS if not outcomes[name]["ok"]]
    if broken:
        return _failure(CANDIDATE, broken[0], outcomes[broken[0]])
    guard = found[PRODUCTION]["optimizers"]["gepa"]
    if guard["ok"] or not str(guard.get("error", "")).startswith("OptimizerUnavailable"):
        return Check.failed(
            f"production (DSPy {found[PRODUCTION]['dspy_version']}): optimize(optimizer='gepa') "
            f"should raise OptimizerUnavailable; got {guard.get('error') or 'a compiled program'}"
        )
    return Check.passed(
        f"assistant.optimization.optimize(student, trainset, switcher=..., optimizer=NAME, "
        f"budget={found[CANDIDATE]['budget']}) "
        f"compiled DocsQA with {', '.join(OPTIMIZERS)} in DSPy {found[CANDIDATE]['dspy_version']}; "
        f"in DSPy {found[PRODUCTION]['dspy_version']} optimizer='gepa' raised {guard['error']}",
        optimizers=len(OPTIMIZERS),
    )


def check_improvement(ctx: TaskContext) -> Check:
    """The best optimizer's dev score against the baseline's, relative, against the 15-25% target."""
    candidate = record(ctx)[CANDIDATE]
    base = candidate["baseline"]["metrics"][MAIN_METRIC]
    scores = {n: o["metrics"][MAIN_METRIC] for n, o in candidate["optimizers"].items() if o["ok"] and n in OPTIMIZERS}
    best = max(scores, key=lambda n: scores[n])
    gain = 100 * (scores[best] - base) / base if base else float("inf")
    measured = (
        f"best: {best} dev {MAIN_METRIC} {scores[best]:.2f} against the baseline's {base:.2f} "
        f"({gain:+.1f}% relative); all: {', '.join(f'{n} {s:.2f}' for n, s in scores.items())}"
    )
    if candidate["offline"]:
        return Check.skipped(
            f"not measurable offline: GITOPS_LM is unset, so {candidate['lm']} answered. It copies "
            f"context sentences and trims them to the demos' length, so a score change measures that "
            f"heuristic, not better prompts. Recorded anyway: {measured}. Set GITOPS_LM to measure it."
        )
    if not base:
        return Check.failed(f"the baseline scored 0, so no relative improvement is defined; {measured}")
    verdict = Check.passed if gain >= TARGET[0] else Check.failed
    above = f"; above the {TARGET[1]:.0f}% the task list expected" if gain > TARGET[1] else ""
    return verdict(
        f"{measured} with {candidate['lm']}; target {TARGET[0]:.0f}-{TARGET[1]:.0f}%{above}",
        improvement_percent=round(gain, 1),
        best_score=scores[best],
        baseline_score=base,
    )


def check_workflow(ctx: TaskContext) -> Check:
    """`run_optimization` with its defaults is still BootstrapFewShot, with demos, in both DSPy versions."""
    found = record(ctx)
    lines, demos = [], {}
    for side in (PRODUCTION, CANDIDATE):
        outcome = found[side]["optimizers"]["workflow"]
        if not outcome["ok"]:
            return _failure(side, "run_optimization", outcome)
        demos[side] = outcome["demos"]["answer"]
        lines.append(
            f"{side} (DSPy {found[side]['dspy_version']}): run_optimization(student, split, switcher=...) -> "
            f"optimizer {outcome['optimizer']!r}, {outcome['program']}, {demos[side]} demos; dev {MAIN_METRIC} "
            f"{outcome['baseline_metrics'][MAIN_METRIC]:.2f} -> {outcome['metrics'][MAIN_METRIC]:.2f}"
        )
        if outcome["optimizer"] != "bootstrap" or not demos[side]:
            return Check.failed("\n".join(lines))
    return Check.passed("\n".join(lines), **{f"{side}_demos": n for side, n in demos.items()})


def check_documented(ctx: TaskContext) -> Check:
    """docs/optimizers.md holds this run's table and names the interface and every optimizer."""
    path: Path = ctx.root / DOC
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    table = render_table(record(ctx)[CANDIDATE])
    missing = [term for term in ("optimize(", "reflection_lm", *OPTIMIZERS) if term not in text]
    if table not in text or missing:
        return Check.failed(
            f"{DOC}: {'lacks this run’s score table' if table not in text else 'has the table'}; "
            f"missing terms: {', '.join(missing) or 'none'}"
        )
    line = text[: text.index(table)].count("\n") + 1
    return Check.passed(
        f"{DOC}:{line}: the score table of this run ({len(table.splitlines())} lines); the interface "
        f"and {', '.join(OPTIMIZERS)} documented",
        lines=len(text.splitlines()),
    )


HANDLER = Handler(
    action=action,
    checks={
        "New DSPy 3.0 optimizers identified and tested": check_new_optimizers,
        "Enhanced optimization capabilities integrated": check_integrated,
        "Performance improvement of 15-25% achieved": check_improvement,
        "Existing optimization workflows preserved": check_workflow,
        "Optimization documentation updated": check_documented,
    },
)
