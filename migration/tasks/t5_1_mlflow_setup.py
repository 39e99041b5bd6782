"""Task 5.1: Set Up MLflow Integration.

The action starts the real tracking server (scripts/mlflow-server's code) on a free port with
basic auth, logs a run over HTTP and stops it; traces a DSPy program with autolog in the
candidate environment of Task 1.1 (DSPy 3.0.1); registers
two versions of it as a model. Measurements go to `evidence.json` in the task's work folder
with the ids of what was logged, in a store under that folder; checks read them back.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Mapping

from gitops.handlers import Check, Handler, TaskContext
from gitops.tracking import server as tracking_server
from migration.environments.environment import Environment
from migration.environments.sides import CANDIDATE, VERSIONS
from migration.tracking import mlflow_lab as lab

MODEL_NAME = "b1006-qa"
EXPERIMENT = "B-1006 Task 5.1"
DOC = Path("docs") / "mlflow.md"
# Topics Task 5.1's documentation must cover, each found in a heading of docs/mlflow.md.
DOC_TOPICS = {
    "the server (start, stop)": r"server",
    "access control": r"auth|access|secur",
    "the DSPy integration": r"dspy|autolog",
    "experiment tracking": r"track",
    "model versioning": r"version|registry",
    "experiment comparison": r"compar",
    "visualization": r"visuali|plot|chart",
    "troubleshooting": r"troubleshoot",
}


def set_up(ctx: TaskContext) -> None:
    """Start, use and stop the server; trace a DSPy program; register two model versions."""
    uri = lab.store_uri(ctx.workdir)
    record: dict[str, Any] = {"versions": lab.versions(), "store": uri}
    lab.step(record, "server", lambda: server_round_trip(ctx.workdir / "server", ctx.environ))
    with lab.tracking(uri, EXPERIMENT, ctx.workdir / "artifacts") as experiment_id:
        record["experiment_id"] = experiment_id
        lab.step(record, "integration", lambda: autolog_in_candidate(ctx, uri, ctx.workdir / "artifacts"))
        lab.step(record, "registry", model_versions)
    lab.save_json(lab.evidence_path(ctx.workdir), record)


def server_round_trip(folder: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    """A throwaway server and admin: health, an anonymous request, a run logged and read back over HTTP."""
    tracking_server.stop(folder)  # a server left by a crashed attempt
    shutil.rmtree(folder, ignore_errors=True)
    creds = {"MLFLOW_TRACKING_USERNAME": "gitops-task-5.1", "MLFLOW_TRACKING_PASSWORD": secrets.token_urlsafe(18)}
    began = time.perf_counter()
    server = tracking_server.start(folder, 0, {**environ, **creds})
    out: dict[str, Any] = {"url": server.url, "pid": server.pid, "start_seconds": round(time.perf_counter() - began, 2)}
    try:
        out["healthy"] = tracking_server.healthy(server.url)
        out["anonymous_status"] = http_status(f"{server.url}/api/2.0/mlflow/experiments/search?max_results=1")
        with lab.environment({**creds, "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}):
            out.update(log_and_read_back(server.url, folder))
    finally:
        stopped = tracking_server.stop(folder)
    out["stopped"] = stopped and not tracking_server.healthy(server.url)
    return out


def log_and_read_back(url: str, folder: Path) -> dict[str, Any]:
    """A run with a param, a metric and an artifact, logged and read back with MlflowClient."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(url)
    experiment_id = client.create_experiment("B-1006 Task 5.1 server")
    run_id = client.create_run(experiment_id, run_name="round trip").info.run_id
    client.log_param(run_id, "task", "5.1")
    client.log_metric(run_id, "answer", 42.0)
    client.log_text(run_id, "logged over HTTP with basic auth\n", "note.txt")
    client.set_terminated(run_id)
    back = client.get_run(run_id)
    note = Path(client.download_artifacts(run_id, "note.txt", str(folder))).read_text()
    return {
        "run_id": run_id,
        "param": back.data.params.get("task"),
        "metric": back.data.metrics.get("answer"),
        "artifact": note.strip(),
    }


def http_status(url: str) -> int:
    """The HTTP status of a GET without credentials."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def autolog_in_candidate(ctx: TaskContext, uri: str, artifacts: Path) -> dict[str, Any]:
    """`mlflow_lab.autolog_traces` run in Task 1.1's candidate environment (DSPy 3.0.1), into `uri`.

    The engine itself may still run DSPy 2.6 (its pins move when Task 1.1 has run and
    scripts/bootstrap runs again): the criterion is about DSPy 3.0, so DSPy 3.0 is measured.
    """
    env = Environment(CANDIDATE, ctx.root, ctx.environ)
    setup = env.create(VERSIONS[CANDIDATE])
    ctx.log(f"{env.path}: {'verified' if setup.reused else 'built'} in {setup.seconds:.1f} s")
    return env.json(["-m", "migration.probes.mlflow_autolog", uri, EXPERIMENT, str(artifacts.resolve())], timeout=300)


def model_versions() -> dict[str, Any]:
    """Log the program as a model twice (two instructions), register both, load v1 and run it."""
    import dspy
    import mlflow

    requirement = [f"dspy=={lab.versions()['dspy']}"]  # explicit: inferring them costs ~5 s
    registered = []
    for label, instructions in (("baseline", None), ("tuned", "Answer with the number only.")):
        prog = lab.program()
        if instructions:
            prog.signature = prog.signature.with_instructions(instructions)
        with mlflow.start_run(run_name=f"model {label}"), dspy.context(lm=lab.lm()):
            info = mlflow.dspy.log_model(
                prog, name="program", registered_model_name=MODEL_NAME, pip_requirements=requirement
            )
        registered.append(str(info.registered_model_version))
    first = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{registered[0]}")
    question = next(iter(lab.QUESTIONS))
    second = mlflow.dspy.load_model(f"models:/{MODEL_NAME}/{registered[1]}")
    return {
        "name": MODEL_NAME,
        "versions": registered,
        "question": question,
        "v1_prediction": first.predict({"question": question}),
        "v2_instructions": second.signature.instructions,
    }


def check_server(ctx: TaskContext) -> Check:
    s = lab.measured(ctx.workdir, "server")
    if "error" in s:
        return Check.failed(f"the server did not start or answer:\n{s['error']}")
    ok = s["healthy"] and s["anonymous_status"] == 401 and s["stopped"]
    evidence = (
        f"scripts/mlflow-server's configuration (SQLite, local artifacts, 1 worker, basic auth) served {s['url']} "
        f"after {s['start_seconds']} s: /health {'200' if s['healthy'] else 'failed'}; an anonymous request got "
        f"{s['anonymous_status']} (401 expected: access control on); stopped cleanly: {s['stopped']}"
    )
    return (Check.passed if ok else Check.failed)(
        evidence, start_seconds=s["start_seconds"], anonymous_status=s["anonymous_status"]
    )


def check_integration(ctx: TaskContext) -> Check:
    i = lab.measured(ctx.workdir, "integration")
    if "error" in i:
        return Check.failed(f"autolog failed in the candidate environment (Task 1.1):\n{i['error']}")
    v = i["versions"]
    traced = len(i["traces"]) == len(lab.QUESTIONS)
    evidence = (
        f"mlflow.dspy.autolog() in the candidate environment (mlflow {v['mlflow']}, dspy {v['dspy']}): {len(i['traces'])} traces of "
        f"{len(lab.QUESTIONS)} program calls read back with mlflow.search_traces (run {i['run_id']}); "
        f"spans of the first: {', '.join(i['spans'])}"
    )
    if int(v["dspy"].split(".")[0]) < 3:
        return Check.failed(
            f"{evidence}. But the candidate environment has dspy {v['dspy']}, not 3.x: run Task 1.1 again.",
            traces=len(i["traces"]),
        )
    return (Check.passed if traced else Check.failed)(evidence, traces=len(i["traces"]))


def check_tracking(ctx: TaskContext) -> Check:
    s = lab.measured(ctx.workdir, "server")
    if "error" in s:
        return Check.failed(f"no server to track to:\n{s['error']}")
    ok = s.get("param") == "5.1" and s.get("metric") == 42.0 and s.get("artifact") == "logged over HTTP with basic auth"
    evidence = (
        f"run {s.get('run_id')} logged over HTTP with the admin's credentials and read back: "
        f"param task={s.get('param')!r}, metric answer={s.get('metric')}, artifact note.txt={s.get('artifact')!r}"
    )
    return (Check.passed if ok else Check.failed)(evidence)


def check_versions(ctx: TaskContext) -> Check:
    r = lab.measured(ctx.workdir, "registry")
    if "error" in r:
        return Check.failed(f"model logging or registration failed:\n{r['error']}")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(lab.store_uri(ctx.workdir))
    found = {str(v.version) for v in client.search_model_versions(f"name='{r['name']}'")}
    answer = (r["v1_prediction"] or {}).get("answer")
    ok = set(r["versions"]) <= found and len(set(r["versions"])) == 2 and answer == lab.QUESTIONS[r["question"]]
    evidence = (
        f"registered model {r['name']!r}: versions {', '.join(r['versions'])} logged by this attempt (registry holds "
        f"{len(found)}); version {r['versions'][0]} loaded back with mlflow.pyfunc answered {answer!r} to "
        f"{r['question']!r}; version {r['versions'][1]} loads with instructions {r['v2_instructions']!r}"
    )
    return (Check.passed if ok else Check.failed)(evidence, versions=len(found))


def check_docs(ctx: TaskContext) -> Check:
    path = ctx.root / DOC
    if not path.is_file():
        return Check.failed(f"{DOC} does not exist")
    text = path.read_text(encoding="utf-8")
    headings = [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]
    found = {
        topic: next((h for h in headings if re.search(rx, h, re.IGNORECASE)), None) for topic, rx in DOC_TOPICS.items()
    }
    missing = [t for t, h in found.items() if h is None]
    listing = "; ".join(f"{t}: '{h}'" for t, h in found.items() if h)
    evidence = f"{DOC}: {len(text.split())} words, {len(headings)} headings; {listing}"
    if missing:
        return Check.failed(f"{evidence}. No heading covers: {', '.join(missing)}", topics=len(found) - len(missing))
    return Check.passed(evidence, topics=len(found), words=len(text.split()))


HANDLER = Handler(
    action=set_up,
    checks={
        "MLflow server configured and running": check_server,
        "DSPy 3.0 MLflow integration configured": check_integration,
        "Basic experiment tracking functional": check_tracking,
        "Model versioning capabilities verified": check_versions,
        "MLflow documentation created": check_docs,
    },
)
