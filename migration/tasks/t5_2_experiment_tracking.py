"""Task 5.2: Implement Experiment Tracking.

Under `mlflow.dspy.autolog(log_compiles, log_evals)`, the tiny DSPy program is called,
evaluated with two LMs (one run each) and compiled with BootstrapFewShot; a comparison run
ranks the two by their `eval` metric (a Markdown table) and plots them (a PNG). The action
records the run ids in `evidence.json`; the checks read everything back from the store.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gitops.handlers import Check, Handler, TaskContext
from gitops.tracking.tracker import run_link
from migration.tracking import mlflow_lab as lab

# Two LM configurations to compare: name -> how many of the devset questions it answers right.
CANDIDATES = {"dummy-lm-strong": len(lab.QUESTIONS), "dummy-lm-weak": len(lab.QUESTIONS) // 2}


def track_experiments(ctx: TaskContext) -> None:
    """Run, evaluate and compile under autolog; compare the evaluations; plot them."""
    uri = lab.store_uri(ctx.workdir)
    record: dict[str, Any] = {"versions": lab.versions(), "store": uri}
    with lab.tracking(uri, "B-1006 Task 5.2", ctx.workdir / "artifacts") as experiment_id:
        record["experiment_id"] = experiment_id
        with lab.autologged(log_traces=True, log_compiles=True, log_evals=True):
            lab.step(record, "evaluations", lambda: evaluate_candidates(ctx))
            lab.step(record, "compile", compile_program)
        if "error" not in record["evaluations"]:
            lab.step(record, "comparison", lambda: compare(record["evaluations"], ctx.workdir))
    lab.save_json(lab.evidence_path(ctx.workdir), record)


def evaluate_candidates(ctx: TaskContext) -> dict[str, Any]:
    """One run per LM: a program call (a trace) and an evaluation (autolog's `eval` metric)."""
    import dspy
    import mlflow

    runs = {}
    for name, correct in CANDIDATES.items():
        model = lab.lm(correct)
        with mlflow.start_run(run_name=name) as run:
            mlflow.set_tags(
                {"gitops.task": ctx.task.id, "gitops.attempt": str(ctx.attempt), "dspy.version": lab.versions()["dspy"]}
            )
            mlflow.log_params({"lm": name, "program": "Predict(question -> answer)", "devset_size": len(lab.QUESTIONS)})
            with dspy.context(lm=model):
                lab.program()(question=next(iter(lab.QUESTIONS)))
            _, seconds = lab.evaluate(lab.program(), model)
            mlflow.log_metric("seconds_per_example", seconds)
        runs[name] = run.info.run_id
    return runs


def compile_program() -> dict[str, Any]:
    """BootstrapFewShot under autolog, which makes the compile run itself."""
    import dspy
    import mlflow

    began = int(time.time() * 1000)
    with dspy.context(lm=lab.lm()):
        compiled = dspy.BootstrapFewShot(metric=lab.exact_match, max_bootstrapped_demos=2, max_labeled_demos=2).compile(
            lab.program(), trainset=lab.devset()
        )
    run = mlflow.last_active_run()
    if run is None or run.info.start_time < began:
        raise RuntimeError("autolog made no run for compile()")
    return {"run_id": run.info.run_id, "demos": len(compiled.demos)}


def compare(evaluations: dict[str, str], workdir: Path) -> dict[str, Any]:
    """A comparison run: the runs ranked by `eval` (comparison.md) and a bar chart (comparison.png)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on CI
    import matplotlib.pyplot as plt
    import mlflow

    ranked = mlflow.search_runs(
        filter_string="attributes.run_id IN ({})".format(", ".join(f"'{r}'" for r in evaluations.values())),
        order_by=["metrics.eval DESC"],
        output_format="list",
    )
    rows = [
        (r.info.run_name, r.info.run_id, r.data.metrics.get("eval"), r.data.metrics.get("seconds_per_example"))
        for r in ranked
    ]
    table = "\n".join(
        ["| Rank | Run | Run id | eval (% exact match) | seconds per example |", "|---|---|---|---|---|"]
        + [
            f"| {i} | {name} | `{rid}` | {score:.1f} | {secs:.4f} |"
            for i, (name, rid, score, secs) in enumerate(rows, 1)
        ]
    )
    figure, axes = plt.subplots(figsize=(5, 3))
    axes.bar([name for name, *_ in rows], [score for _, _, score, _ in rows], color=["#2a7", "#d63"][: len(rows)])
    axes.set_ylabel("eval (% exact match)")
    axes.set_ylim(0, 100)
    axes.set_title("B-1006 Task 5.2: LMs compared")
    figure.tight_layout()
    with mlflow.start_run(run_name="comparison") as run:
        mlflow.log_text(table + "\n", "comparison.md")
        mlflow.log_figure(figure, "comparison.png")
    plt.close(figure)
    (workdir / "comparison.md").write_text(table + "\n", encoding="utf-8")
    return {"run_id": run.info.run_id, "ranking": [name for name, *_ in rows]}


def _client(ctx: TaskContext) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(lab.store_uri(ctx.workdir))


def _artifact(ctx: TaskContext, run_id: str, path: str) -> Path:
    """Download an artifact of a run (as a reader would) into the work folder."""
    into = ctx.workdir / "downloaded" / run_id
    into.mkdir(parents=True, exist_ok=True)
    return Path(_client(ctx).download_artifacts(run_id, path, str(into)))


def check_operations(ctx: TaskContext) -> Check:
    e, c = lab.measured(ctx.workdir, "evaluations"), lab.measured(ctx.workdir, "compile")
    if "error" in e or "error" in c:
        return Check.failed(f"an operation failed:\n{e.get('error') or c.get('error')}")
    client = _client(ctx)
    experiment_id = lab.load_json(lab.evidence_path(ctx.workdir))["experiment_id"]
    traces = {name: len(lab.traces_of(lab.store_uri(ctx.workdir), experiment_id, rid)) for name, rid in e.items()}
    evals = {name: client.get_run(rid).data.metrics.get("eval") for name, rid in e.items()}
    compile_run = client.get_run(c["run_id"])
    artifacts = sorted(a.path for a in client.list_artifacts(c["run_id"]))
    # a program call + one per evaluated example, each a trace
    ok = (
        all(n >= 1 + len(lab.QUESTIONS) for n in traces.values())
        and None not in evals.values()
        and compile_run.data.tags.get("mlflow.autologging") == "dspy"
        and "best_model.json" in artifacts
    )
    evidence = (
        f"forward calls and evaluations traced: {traces} traces per run; Evaluate logged `eval` = {evals}; "
        f"compile() run {c['run_id']} (tag mlflow.autologging=dspy) with artifacts {artifacts}"
    )
    return (Check.passed if ok else Check.failed)(evidence, traces=sum(traces.values()), compile_runs=1)


def check_metadata(ctx: TaskContext) -> Check:
    e, c = lab.measured(ctx.workdir, "evaluations"), lab.measured(ctx.workdir, "compile")
    if "error" in e or "error" in c:
        return Check.failed(f"nothing to read:\n{e.get('error') or c.get('error')}")
    client = _client(ctx)
    runs = [client.get_run(rid) for rid in [*e.values(), c["run_id"]]]
    params = {r.info.run_name: sorted(r.data.params) for r in runs}
    tagged = all(r.data.tags.get("dspy.version") and r.data.tags.get("gitops.task") for r in runs[:-1])
    dataset = "trainset.json" in {a.path for a in client.list_artifacts(c["run_id"])}
    ok = tagged and dataset and all(params.values()) and "lm_params" in params[runs[-1].info.run_name]
    listing = "; ".join(f"{name}: {', '.join(_collapse(keys))}" for name, keys in params.items())
    evidence = (
        f"params per run: {listing}. dspy.version and gitops.task tags on every evaluation: {tagged}; "
        f"compile trainset.json stored: {dataset}"
    )
    return (Check.passed if ok else Check.failed)(evidence, params=sum(len(p) for p in params.values()))


def _collapse(keys: list[str]) -> list[str]:
    """`Predict.signature.fields.0.prefix`, ... -> `Predict.signature.* (5)`."""
    signature = [k for k in keys if ".signature." in k]
    return [k for k in keys if k not in signature] + (
        [f"{signature[0].split('.signature.')[0]}.signature.* ({len(signature)})"] if signature else []
    )


def check_performance(ctx: TaskContext) -> Check:
    e = lab.measured(ctx.workdir, "evaluations")
    if "error" in e:
        return Check.failed(f"no evaluation ran:\n{e['error']}")
    client = _client(ctx)
    found = {
        name: {m: [x.value for x in client.get_metric_history(rid, m)] for m in ("eval", "seconds_per_example")}
        for name, rid in e.items()
    }
    expected = {name: 100.0 * correct / len(lab.QUESTIONS) for name, correct in CANDIDATES.items()}
    ok = all(found[n]["eval"] == [expected[n]] and found[n]["seconds_per_example"] for n in CANDIDATES)
    evidence = f"metric histories read back: {found}; expected eval {expected}"
    metrics = {f"eval_{n.replace('-', '_')}": found[n]["eval"][-1] for n in CANDIDATES if found[n]["eval"]}
    return (Check.passed if ok else Check.failed)(evidence, **metrics)


def check_comparison(ctx: TaskContext) -> Check:
    r = lab.measured(ctx.workdir, "comparison")
    if "error" in r:
        return Check.failed(f"no comparison:\n{r['error']}")
    table = _artifact(ctx, r["run_id"], "comparison.md").read_text(encoding="utf-8")
    best = max(CANDIDATES, key=CANDIDATES.__getitem__)
    ok = r["ranking"][0] == best and len(r["ranking"]) == len(CANDIDATES) and best in table
    return (Check.passed if ok else Check.failed)(
        f"runs ranked by eval with mlflow.search_runs; comparison.md of run {r['run_id']}:\n{table}",
        runs_compared=len(r["ranking"]),
    )


def check_visualization(ctx: TaskContext) -> Check:
    r = lab.measured(ctx.workdir, "comparison")
    if "error" in r:
        return Check.failed(f"no comparison to plot:\n{r['error']}")
    png = _artifact(ctx, r["run_id"], "comparison.png")
    width, height = lab.png_size(png)
    link = run_link(
        lab.store_uri(ctx.workdir), lab.load_json(lab.evidence_path(ctx.workdir))["experiment_id"], r["run_id"]
    )
    evidence = f"comparison.png ({width}x{height} px, {png.stat().st_size} bytes) logged to run {r['run_id']}: {link}"
    return Check.passed(evidence, width=width, height=height, bytes=png.stat().st_size)


HANDLER = Handler(
    action=track_experiments,
    checks={
        "All DSPy operations tracked in MLflow": check_operations,
        "Experiment metadata captured and stored": check_metadata,
        "Model performance metrics tracked": check_performance,
        "Experiment comparison capabilities functional": check_comparison,
        "Experiment visualization working": check_visualization,
    },
)
