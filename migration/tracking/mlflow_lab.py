"""A tiny real DSPy program, run offline with DummyLM, and the MLflow plumbing that
Tasks 5.1 and 5.2 measure with it (migration/tasks/t5_1_mlflow_setup.py, t5_2_experiment_tracking.py).

dspy and mlflow are imported inside functions: importing this module stays cheap.
"""

from __future__ import annotations

import json
import os
import struct
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

QUESTIONS = {
    "What is 2 + 2?": "4",
    "What is 3 + 5?": "8",
    "What is 7 - 4?": "3",
    "What is 6 * 2?": "12",
}


def lm(correct: int = len(QUESTIONS)) -> Any:
    """A DummyLM that answers the first `correct` questions right and the rest wrong."""
    from dspy.utils import DummyLM

    answers = {q: {"answer": a if i < correct else "0"} for i, (q, a) in enumerate(QUESTIONS.items())}
    return DummyLM(answers)  # dict mode: no iterator, so the LM pickles with a logged model


def program() -> Any:
    """The program under test: `question -> answer`, byte-identical prompts in DSPy 2.6 and 3.0."""
    import dspy

    return dspy.Predict("question -> answer")


def devset() -> list[Any]:
    import dspy

    return [dspy.Example(question=q, answer=a).with_inputs("question") for q, a in QUESTIONS.items()]


def exact_match(example: Any, prediction: Any, trace: Any = None) -> bool:
    """The metric: the predicted answer equals the expected one."""
    return str(prediction.answer).strip() == example.answer


def evaluate(prog: Any, model: Any) -> tuple[float, float]:
    """Score (percent) of the program on the devset with this LM, and seconds per example."""
    import dspy

    began = time.perf_counter()
    with dspy.context(lm=model):
        result = dspy.Evaluate(devset=devset(), metric=exact_match, num_threads=1, display_progress=False)(prog)
    seconds = (time.perf_counter() - began) / len(QUESTIONS)
    return float(getattr(result, "score", result)), seconds  # 3.0 returns EvaluationResult, 2.6 a float


def versions() -> dict[str, str]:
    """Installed versions of the libraries the evidence depends on."""
    import importlib.metadata as metadata

    return {name: metadata.version(name) for name in ("dspy", "mlflow")}


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set process environment variables (MLflow reads credentials there) and restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        _restore(saved)


def _restore(saved: Mapping[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# MLflow's fluent API keeps process-wide state: set_tracking_uri and set_experiment also write
# these variables into os.environ (for subprocesses), and log_model makes the logged model
# "active", so that later metrics are linked to it even in another store (a FOREIGN KEY error).
FLUENT_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_ACTIVE_MODEL_ID", "_MLFLOW_ACTIVE_MODEL_ID")


@contextmanager
def tracking(uri: str, experiment: str, artifacts: Path | None = None) -> Iterator[str]:
    """Point MLflow's fluent API at a store and experiment for the block; leave no trace after it."""
    import mlflow
    from mlflow.tracking import _tracking_service, fluent

    saved_env = {key: os.environ.get(key) for key in FLUENT_ENV}
    # No public API unsets these two; restoring them keeps the caller's defaults as they were.
    saved = (_tracking_service.utils._tracking_uri, fluent._active_experiment_id)
    mlflow.set_tracking_uri(uri)
    mlflow.clear_active_model()
    try:
        found = mlflow.get_experiment_by_name(experiment)
        if found is None:
            location = artifacts.resolve().as_uri() if artifacts else None
            experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
        else:
            experiment_id = found.experiment_id
        mlflow.set_experiment(experiment_id=experiment_id)
        yield experiment_id
    finally:
        mlflow.clear_active_model()
        _tracking_service.utils._tracking_uri, fluent._active_experiment_id = saved
        _restore(saved_env)


@contextmanager
def autologged(**flags: bool) -> Iterator[None]:
    """`mlflow.dspy.autolog` for the block only (it installs a global DSPy callback)."""
    import mlflow.dspy

    mlflow.dspy.autolog(silent=True, **flags)
    try:
        yield
    finally:
        mlflow.dspy.autolog(disable=True, silent=True)


def traces_of(uri: str, experiment_id: str, run_id: str) -> list[Any]:
    """The traces logged while a run was active, after the async export queue is flushed."""
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.flush_trace_async_logging()  # traces are exported in the background
    return list(MlflowClient(uri).search_traces(locations=[experiment_id], run_id=run_id, max_results=500))


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG file (ValueError if it is not one)."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    return struct.unpack(">II", head[16:24])


def save_json(path: Path, data: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return path


def load_json(path: Path) -> dict[str, Any]:
    """What an action recorded; a clear error if the action did not get that far."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the action did not record its measurements")
    return json.loads(path.read_text(encoding="utf-8"))


def store_uri(workdir: Path) -> str:
    """A task's own tracking store, under its work folder: isolated from the project's mlflow.db."""
    return f"sqlite:///{workdir.resolve() / 'mlflow.db'}"


def evidence_path(workdir: Path) -> Path:
    return workdir / "evidence.json"


def step(record: dict[str, Any], name: str, fn: Callable[[], dict[str, Any]]) -> None:
    """Run one measurement; a failure is recorded for its check instead of hiding the others."""
    try:
        record[name] = fn()
    except Exception:  # noqa: BLE001 - the check reports it as evidence
        record[name] = {"error": traceback.format_exc()}


def measured(workdir: Path, name: str) -> dict[str, Any]:
    """One measurement recorded by the action (an `error` entry when it is missing)."""
    return load_json(evidence_path(workdir)).get(name) or {"error": f"{name} was not measured"}


def autolog_traces() -> dict[str, Any]:
    """Run the program under `mlflow.dspy.autolog`; read its traces back."""
    import dspy
    import mlflow

    with autologged(log_traces=True), mlflow.start_run(run_name="autolog traces") as run:
        prog = program()
        with dspy.context(lm=lm()):
            answers = [prog(question=q).answer for q in QUESTIONS]
    mlflow.flush_trace_async_logging()  # traces are exported in the background
    traces = mlflow.search_traces(run_id=run.info.run_id, locations=[run.info.experiment_id], return_type="list")
    spans = [f"{s.name} ({s.span_type})" for s in traces[0].data.spans] if traces else []
    return {"run_id": run.info.run_id, "answers": answers, "traces": [t.info.trace_id for t in traces], "spans": spans}
