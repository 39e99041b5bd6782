"""Task 6.2: Post-Deployment Validation, on the production Task 6.1 left running.

The task watches production for a window (gitops.handlers.Window). On GitHub the window lasts
what the task list's steps say ("Monitor performance metrics for 24-48 hours": the lower bound,
24 hours): the action opens it and the task waits; the scheduled windows workflow evaluates it
once it has ended (gitops.run.windows). Locally the window elapses within the run: the evaluation
itself measures a short one (60 s; GITOPS_VALIDATION_SECONDS changes it).

The evaluation replays the devset through the proxy for the measured window, each question sent in turn to production and to the stable release
started beside it at weight 0 (the latency reference), then drills the alerting: a fault injected for a moment must make
Prometheus fire AssistantHighErrorRate, the alert becomes a forge issue, the fault is removed,
the alert resolves and the issue is closed. The issue is reported through ctx.incidents
(gitops.forge.incidents): locally the engine opens it in its forge at once (.gitops/forge/issues);
on GitHub the evaluation holds no write token, so the windows workflow's recording job opens the
labelled issue and closes it with the resolution's comment. It writes the post-deployment report with plots
(p95 latency and error rate per release, over the rollout and over the window). Each check
measures again where it can; latency is judged against the reference of the same window (Task
6.1's stable baseline, measured minutes earlier, is reported beside it), both as the clients saw
it and as Prometheus recorded it over the whole window watched (on GitHub from the window's
opening to the end of the evaluation's traffic: migration/production/span.py).
With GITOPS_PRODUCTION_URL and GITOPS_PROMETHEUS_URL set, the same evaluation runs against that
production through its two URLs and pushes to the branch it follows (t6_2_remote.py).
"""
from __future__ import annotations

import json
import re
import time
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gitops.forge.local import LocalForge
from gitops.handlers import Check, Handler, TaskContext, Window
from gitops.run.deploying import production_url, where
from migration.production import span, stack
from migration.production.contract import check as contract_check
from migration.production.deployment import LocalProduction, Production
from migration.production.history import GitHistory, in_git_repo
from migration.production.latency import Comparison
from migration.production.loadgen import Record, devset_questions
from migration.production.plots import plot
from migration.production.remote import Settings
from migration.production.spec import SPEC_PATH, Spec, load, parse
from migration.production.validation import ALERT, Route, by_name, direct, validate
from migration.tasks import t6_2_remote as remote

WINDOW_VARIABLE = "GITOPS_VALIDATION_SECONDS"
DEFAULT_WINDOW = 60.0
REPORT = "post-deployment-report.md"


# Said in the evidence when the drill's issue is handed over instead of opened (GitHub).
OPENED_BY_RECORDING = "the recording job (it holds issues: write), from this evaluation's hand-over"


def _forge(root: Path) -> LocalForge:
    """The local forge of `[tool.gitops] forge_dir` (where the engine opened the drill's issue, as its HotFixes)."""
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("tool", {}).get("gitops", {})
    return LocalForge(root / config.get("forge_dir", ".gitops/forge"))


def declared(root: Path, history: GitHistory | None) -> Spec:
    """Production as last declared: the tip of the history branch, else the file after a completed rollout."""
    text = history.read() if history else None
    if text:
        return parse(text, SPEC_PATH)
    spec = load(root / SPEC_PATH)
    return spec.with_weights({spec.canary: 100, spec.stable: 0}).without(spec.stable)


def _records(path: Path) -> list[Record]:
    if not path.exists():
        return []
    return [Record(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _evidence(ctx: TaskContext, name: str = "evidence.json", task: str = "6.2") -> dict[str, Any]:
    return json.loads((ctx.workdir.parent / task / name).read_text(encoding="utf-8"))


# "for 24-48 hours", "for 2 days": how long the task list's steps say production is watched.
WATCH = re.compile(r"\bfor\s+(\d+(?:\.\d+)?)(?:\s*-\s*\d+(?:\.\d+)?)?\s*(hours?|days?)\b", re.I)


def scheduled_window(steps: tuple[str, ...]) -> float:
    """The window's seconds where windows are scheduled: the first "for N(-M) hours|days" of the task's
    steps, its lower bound (the evaluation is due once the shortest watch the task list asks for is over)."""
    for step in steps:
        found = WATCH.search(step)
        if found:
            return float(found[1]) * (86400 if found[2].lower().startswith("day") else 3600)
    raise RuntimeError("Task 6.2's steps say for how long production is watched on GitHub (\"Monitor performance "
                       "metrics for 24-48 hours\"): none of them does; say it in migration/B-1006.md")


def window_length(ctx: TaskContext) -> float:
    """Scheduled (GitHub): the task list's watch. In the run: nothing more to wait, the evaluation
    measures its own short window (GITOPS_VALIDATION_SECONDS)."""
    return scheduled_window(ctx.task.do) if ctx.scheduled_windows else 0.0


def _baseline(ctx: TaskContext) -> Path:
    baseline = ctx.workdir.parent / "6.1" / "evidence.json"
    if not baseline.exists():
        raise RuntimeError(f"{baseline} is missing: run Task 6.1 first (it records the stable baseline)")
    return baseline


def action(ctx: TaskContext) -> Mapping[str, Any]:
    """Open the window: production is as Task 6.1 left it, and its baseline is there to compare with."""
    if production_url(ctx.environ):
        Settings.from_environ(ctx.environ)  # both URLs or neither: said when the window opens, not a day later
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    _baseline(ctx)
    ctx.log(f"Task 6.2: validation window opened ({window_length(ctx):g} s to wait before it is evaluated)")
    return {}


def evaluate(ctx: TaskContext) -> Mapping[str, Any]:
    """After the window: measure production (a window of traffic beside the reference, then the alert drill)."""
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    baseline = _baseline(ctx)
    production: Production
    history: GitHistory | None
    route: Callable[[Production, str], Route]
    if production_url(ctx.environ):  # elsewhere: pushed commits, its URLs, the reference by name through the proxy
        production = remote.production(ctx)
        history, route = production.history, by_name
    else:  # the stack on this machine: the reference at its own port, nginx's overhead counted against production
        history = GitHistory(ctx.root) if in_git_repo(ctx.root) else None
        production = LocalProduction(ctx.root, ctx.root / stack.STATE_DIR, ctx.environ, history, ctx.log)
        route = direct
    # On GitHub, the window the task waited for (opened_at, until) before this evaluation; absent locally.
    waited = (ctx.state.get("tasks", {}).get(ctx.task.id) or {}).get("window")
    window = float(ctx.environ.get(WINDOW_VARIABLE, DEFAULT_WINDOW))
    checked_in = load(ctx.root / SPEC_PATH)
    reference = checked_in.release(checked_in.stable)
    if reference is None:
        raise RuntimeError(f"{SPEC_PATH}: rollout.stable {checked_in.stable!r} is not among the releases; Task 6.2 "
                           "measures production's latency beside that release: declare it")
    began = time.monotonic()
    evidence = validate(declared(ctx.root, history), production, ctx.incidents, ctx.workdir, window, reference,
                        log=ctx.log, route=route, span_start=span.unix(waited["opened_at"]) if waited else None)
    evidence["seconds"] = round(time.monotonic() - began, 1)
    if ctx.incidents.forge is None:  # handed over: no issue exists yet to point at
        evidence["issues_opened_by"] = OPENED_BY_RECORDING
    elif not isinstance(ctx.incidents.forge, LocalForge):  # `--forge github` from a terminal: not in the files
        evidence["issues_opened_by"] = "the engine's GitHub forge, as the drill ran"
    evidence["where"] = where(ctx.environ)
    if waited:
        evidence["scheduled_window"] = {"opened_at": waited["opened_at"], "until": waited["until"]}
    plots = {"rollout": plot(_records(ctx.workdir.parent / "6.1" / "clients.jsonl"), ctx.workdir / "rollout.png",
                             "Task 6.1: rehearsal and rollout as the clients saw them"),
             "validation": plot(_records(ctx.workdir / "clients.jsonl"), ctx.workdir / "validation.png",
                                "Task 6.2: validation window and alert drill")}
    evidence["plots"] = {k: str(v) for k, v in plots.items()}
    (ctx.workdir / "evidence.json").write_text(json.dumps(evidence, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (ctx.workdir / REPORT).write_text(render_report(evidence, json.loads(baseline.read_text(encoding="utf-8"))),
                                      encoding="utf-8")
    for path in (ctx.workdir / REPORT, *plots.values()):  # into the task's MLflow run, beside gitops' report.md
        ctx.attach(path)
    return {"performance_metrics": {"window_p95_ms": evidence["window_clients"]["p95_ms"] or 0.0,
                                    "reference_p95_ms": evidence["window_reference"]["p95_ms"] or 0.0,
                                    "window_error_rate": evidence["window_clients"]["error_rate"] or 0.0}}


def _row(label: str, figures: Mapping[str, Any]) -> str:
    return f"| {label} | {figures['p50_ms']} | {figures['p95_ms']} | {figures['p99_ms']} | {figures['error_rate']} |"


def _span_text(evidence: Mapping[str, Any]) -> str:
    over = evidence.get("span")
    if not over:
        return "the measured window"
    what = "the scheduled window from its opening" if over.get("scheduled") else "the measured window"
    return f"{what}: {over['from']} to {over['to']} ({over['seconds']:g} s)"


def render_report(evidence: dict[str, Any], rollout: dict[str, Any]) -> str:
    reference = evidence["reference"]["release"]
    return "\n".join([
        "# Post-deployment report (Task 6.2)", "",
        f"Where: {evidence.get('where', 'not recorded')}. Release serving: {evidence['serving']}; validation window "
        f"{evidence['window_seconds']:g} s, each question sent to production and to the reference {reference} beside "
        f"it in turn. Prometheus' figures cover {_span_text(evidence)}.", "",
        "| | p50 ms | p95 ms | p99 ms | error rate |", "|---|---|---|---|---|",
        _row("stable baseline before the rollout (clients, Task 6.1)", rollout["baseline"]),
        _row("window: production through the proxy (clients)", evidence["window_clients"]),
        _row(f"window: reference {reference} beside it (clients)", evidence["window_reference"]),
        _row("span: production (Prometheus histogram)", evidence["window_server"]),
        _row(f"window: reference {reference} (Prometheus histogram)", evidence["reference_server"]), "",
        f"Alert drill: {ALERT} fired {evidence['fired_after_seconds']} s after the fault was declared, became "
        f"issue(s) {list(evidence['issues'].values())}, resolved {evidence['resolved_after_seconds']} s after the "
        f"fault was removed; closed: {evidence['closed']}. Clients during the drill: {evidence['drill_clients']}.", "",
        "![rollout](rollout.png)", "", "![validation](validation.png)", "",
        "## Lessons learned and recommendations", "",
        "- The analysis catches a canary failing every second request at its first step, within seconds: keep "
        "`failure_limit: 0` for error rates, and widen windows with real traffic.",
        "- Clients that reuse keep-alive connections can see one closed at an nginx reload: they should retry "
        "idempotent requests such as /ask once.",
        "- On GitHub the task list's 24-48 hour window is waited for by the scheduled windows workflow, which "
        "evaluates it once 24 hours have passed; locally the window is short.", "",
    ])


def check_functionality(ctx: TaskContext) -> Check:
    if production_url(ctx.environ):
        return remote.check_functionality(ctx, _evidence(ctx, task="6.1")["reference"])
    state = stack.load_state(ctx.root / stack.STATE_DIR)
    if not stack.running(state.proxy):
        return Check.failed("the proxy is not running")
    assert state.proxy is not None
    reference = _evidence(ctx, task="6.1")["reference"]
    results = contract_check(state.proxy.url, devset_questions(), reference)
    failed = [r for r in results if not r.passed]
    return (Check.passed if not failed else Check.failed)(
        f"contract through {state.proxy.url} after the validation window: "
        + "; ".join(f"{'ok' if r.passed else 'FAILED'} {r.name}: {r.detail}" for r in results), failed=len(failed))


def _spec(ctx: TaskContext) -> Spec:
    return load(ctx.root / SPEC_PATH)


def check_performance(ctx: TaskContext) -> Check:
    """Production's p50/p95/p99 against the reference measured beside it (latency.py); 6.1's baseline is context."""
    evidence, base = _evidence(ctx), _evidence(ctx, task="6.1")["baseline"]
    if "window_reference" not in evidence:
        return Check.failed(f"{ctx.workdir / 'evidence.json'} has no reference measured beside the window: run "
                            "Task 6.2 again (gitops retry 6.2)")
    window, server = evidence["window_clients"], evidence["window_server"]
    limit = _spec(ctx).analysis.thresholds.max_p95_ratio
    comparison = Comparison(window, evidence["window_reference"], limit)
    # The same limit on Prometheus' histogram over the whole span watched (on GitHub, the day).
    recorded = Comparison(server, evidence["reference_server"], limit)
    ok = comparison.ok and recorded.ok
    reference = evidence["reference"]["release"]
    return (Check.passed if ok else Check.failed)(
        f"{evidence.get('where', 'where: not recorded')}: validation window of {evidence['window_seconds']:g} s, "
        f"{window['requests']} requests through the proxy and "
        f"{evidence['window_reference']['requests']} to {reference} beside it, alternating: {comparison.text()} "
        f"(limit: analysis.thresholds.max_p95_ratio of deploy/production.yaml); Prometheus' histogram over "
        f"{_span_text(evidence)}: production {server['p50_ms']}/{server['p95_ms']}/{server['p99_ms']} ms, against "
        f"{reference} in the window beside it {evidence['reference_server']['p50_ms']}/"
        f"{evidence['reference_server']['p95_ms']}/{evidence['reference_server']['p99_ms']} ms (ratios "
        f"{recorded.ratios}); Task 6.1's stable baseline before "
        f"the rollout "
        f"{base['p50_ms']}/{base['p95_ms']}/{base['p99_ms']} ms at a 1-minute load average of "
        f"{base.get('load_average', '?')}, {evidence.get('load_average', '?')} in the window (context, not judged: "
        f"measured minutes apart, it compares only on a machine as busy)",
        p95_ratio=comparison.ratios["p95_ms"] or -1.0)


def check_errors(ctx: TaskContext) -> Check:
    evidence = _evidence(ctx)
    window, server = evidence["window_clients"], evidence["window_server"]
    limit = _spec(ctx).analysis.thresholds.max_error_rate
    ok = window["error_rate"] is not None and window["error_rate"] <= limit and (server["error_rate"] or 0) <= limit
    return (Check.passed if ok else Check.failed)(
        f"{evidence.get('where', 'where: not recorded')}: validation window: {window['failed']} of "
        f"{window['requests']} client requests failed "
        f"(rate {window['error_rate']}), Prometheus' 5xx share over {_span_text(evidence)} {server['error_rate']}; "
        f"limit {limit:g} "
        f"(deploy/production.yaml analysis.thresholds.max_error_rate)", error_rate=window["error_rate"] or 0.0)


def _issue_states(ctx: TaskContext, evidence: Mapping[str, Any]) -> dict[str, str | None]:
    """Each drill issue's state: in the local forge, or as reported for the recording job to write."""
    if evidence.get("issues_opened_by"):
        return {marker: "closed" if marker in evidence["closed"] else "open" for marker in evidence["issues"]}
    forge = _forge(ctx.root)
    return {marker: forge.issue_state(marker) for marker in evidence["issues"]}


def check_alerting(ctx: TaskContext) -> Check:
    evidence = _evidence(ctx)
    states = _issue_states(ctx, evidence)
    ok = evidence["fired"] and evidence["resolved"] and states and all(s == "closed" for s in states.values())
    opened_by = f" (opened and closed by {evidence['issues_opened_by']})" if evidence.get("issues_opened_by") else ""
    return (Check.passed if ok else Check.failed)(
        f"{ALERT} fired in Prometheus {evidence['fired_after_seconds']} s after a fault was declared; forge issues "
        f"{evidence['issues']} now {states}{opened_by}; resolved {evidence['resolved_after_seconds']} s after the fault was "
        f"removed; clients during the drill: {evidence['drill_clients']['failed']} of "
        f"{evidence['drill_clients']['requests']} failed", fired_after=evidence["fired_after_seconds"])


def check_report(ctx: TaskContext) -> Check:
    report = ctx.workdir / REPORT
    pngs = {name: Path(path) for name, path in _evidence(ctx)["plots"].items()}
    valid = {n: p.exists() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n, p in pngs.items()}
    ok = report.exists() and valid and all(valid.values())
    return (Check.passed if ok else Check.failed)(
        f"{report} ({report.stat().st_size if report.exists() else 0} bytes); plots (PNG): "
        f"{ {n: f'{p} ({p.stat().st_size} bytes)' if p.exists() else 'missing' for n, p in pngs.items()} }",
        plots=sum(valid.values()))


HANDLER = Handler(
    action=action,
    window=Window(window_length, evaluate),
    checks={
        "All system functionality validated in production": check_functionality,
        "Performance metrics within acceptable ranges": check_performance,
        "Error rates within acceptable thresholds": check_errors,
        "Monitoring and alerting functional": check_alerting,
        "Post-deployment report completed": check_report,
    },
)
