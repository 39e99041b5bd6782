"""Probes of a DSPy installation, run *inside* an environment: `python dspy3_probes.py NAME...`.

Prints one JSON object {probe: {"ok", "seconds", ...}} on stdout. Imports only the standard
library at module level (the file runs under whichever interpreter it is handed), and
everything runs offline on `dspy.utils.DummyLM`. A probe that raises is recorded with
its error, never aborts the others: absence of an API is data, not a crash.
"""
from __future__ import annotations

import inspect
import json
import os
import sys
import tempfile
import time
import traceback
from typing import Any, Callable

REMOVED_APIS = ("Assert", "Suggest", "assert_transform_module")  # removed in DSPy 2.6.0
REPLACEMENTS = ("Refine", "BestOfN")
# Every output field the probed programs and optimizers ask a DummyLM for; the ChatAdapter
# ignores the fields a signature does not declare, so one answer fits every prompt.
UNIVERSAL_ANSWER = {
    "answer": "4",
    "reasoning": "Two and two make four.",
    "discussion": "The answer is short and correct.",
    "advice": {"self": "Answer with the number only."},
    "program_description": "Answers arithmetic questions.",
    "module_description": "Predicts the answer to a question.",
    "proposed_instruction": "Answer the arithmetic question with a number.",
    "observations": "Arithmetic questions with numeric answers.",
    "summary": "Small arithmetic dataset.",
    "new_instruction": "Answer the arithmetic question with a single number.",
}
# Ordered so that both halves (train, validation) mix right and wrong answers of the DummyLM ("4").
QUESTIONS = (("What is 2+2?", "4"), ("What is 3+3?", "6"), ("What is 3+1?", "4"), ("What is 1+1?", "2"))


def dummy_lm() -> Any:
    """A DummyLM that answers every prompt with UNIVERSAL_ANSWER (key "" matches any prompt)."""
    from dspy.utils import DummyLM

    return DummyLM({"": UNIVERSAL_ANSWER})


def trainset() -> list[Any]:
    import dspy

    return [dspy.Example(question=q, answer=a).with_inputs("question") for q, a in QUESTIONS]


def exact(gold: Any, pred: Any, *args: Any, **kwargs: Any) -> float:
    """Exact-match metric; accepts the extra arguments GEPA passes (trace, pred_name, pred_trace)."""
    return float(str(pred["answer"]) == gold.answer)


def probe_predict() -> dict[str, Any]:
    """Configure a DummyLM and run `Predict('question -> answer')` once."""
    import dspy

    lm = dspy.utils.DummyLM([{"answer": "4"}])
    dspy.configure(lm=lm)
    prediction = dspy.Predict("question -> answer")(question="What is 2+2?")
    return {"dspy_version": dspy.__version__, "answer": prediction.answer, "lm_calls": len(lm.history)}


def probe_configure() -> dict[str, Any]:
    """`dspy.configure(lm=...)` takes effect: settings hold the LM and a Predict uses it."""
    import dspy

    lm = dummy_lm()
    dspy.configure(lm=lm)
    configured = dspy.settings.lm is lm
    answer = dspy.Predict("question -> answer")(question="What is 2+2?").answer
    adapter = dspy.settings.adapter
    return {
        "configured": configured,
        "answer": answer,
        "lm_calls": len(lm.history),
        "adapter": type(adapter).__name__ if adapter is not None else "ChatAdapter (default)",
        "ok": configured and answer == "4" and len(lm.history) == 1,
    }


def probe_assertions() -> dict[str, Any]:
    """The removed assertion APIs are absent; Refine and BestOfN exist and run."""
    import dspy

    absent = [name for name in REMOVED_APIS if not hasattr(dspy, name)]
    present = [name for name in REPLACEMENTS if hasattr(dspy, name)]
    dspy.configure(lm=dummy_lm())

    def reward(args: dict[str, Any], pred: Any) -> float:
        return float(pred.answer == "4")

    runs = {}
    for name in present:
        module = getattr(dspy, name)(module=dspy.Predict("question -> answer"), N=2, reward_fn=reward, threshold=1.0)
        runs[name] = module(question="What is 2+2?").answer
    ok = absent == list(REMOVED_APIS) and present == list(REPLACEMENTS) and set(runs.values()) == {"4"}
    return {"absent": absent, "present": present, "answers": runs, "ok": ok}


def probe_mlflow() -> dict[str, Any]:
    """`mlflow.dspy.autolog` imports and traces a Predict call into a throwaway SQLite store."""
    import dspy
    import mlflow
    import mlflow.dspy

    folder = tempfile.mkdtemp(prefix="mlflow-probe-")
    mlflow.set_tracking_uri(os.environ.get("PROBE_MLFLOW_URI") or f"sqlite:///{folder}/mlflow.db")
    mlflow.set_experiment("dspy3-probe")
    mlflow.dspy.autolog()
    dspy.configure(lm=dummy_lm())
    dspy.Predict("question -> answer")(question="What is 2+2?")
    mlflow.flush_trace_async_logging()
    trace_id = mlflow.get_last_active_trace_id()
    trace = mlflow.get_trace(trace_id) if trace_id else None
    spans = [span.name for span in trace.data.spans] if trace else []
    mlflow.dspy.autolog(disable=True)  # later probes run untraced
    return {"mlflow_version": mlflow.__version__, "autolog": callable(mlflow.dspy.autolog), "trace_spans": spans, "ok": bool(spans)}


def _counted(metric: Callable[..., float]) -> tuple[Callable[..., float], list[int]]:
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> float:
        calls[0] += 1
        return metric(*args, **kwargs)

    return wrapper, calls


def _compiled_answer(program: Any) -> str:
    return program(question="What is 2+2?").answer


def probe_gepa() -> dict[str, Any]:
    """GEPA with a DummyLM reflection LM and `max_metric_calls=8` compiles a Predict, reflecting at least once."""
    import dspy

    lm, reflection = dummy_lm(), dummy_lm()
    dspy.configure(lm=lm)
    metric, calls = _counted(exact)
    optimizer = dspy.GEPA(metric=metric, max_metric_calls=8, reflection_lm=reflection, num_threads=1, seed=0)
    data = trainset()
    program = optimizer.compile(dspy.Predict("question -> answer"), trainset=data[:2], valset=data[2:])
    return {"metric_calls": calls[0], "budget": 8, "lm_calls": len(lm.history), "reflection_calls": len(reflection.history),
            "answer": _compiled_answer(program), "ok": len(reflection.history) > 0}


def probe_simba() -> dict[str, Any]:
    """SIMBA with bsize=2, num_candidates=2, max_steps=1 compiles a Predict."""
    import dspy

    lm = dummy_lm()
    dspy.configure(lm=lm)
    metric, calls = _counted(exact)
    optimizer = dspy.SIMBA(metric=metric, bsize=2, num_candidates=2, max_steps=1, max_demos=1, num_threads=1)
    program = optimizer.compile(dspy.Predict("question -> answer"), trainset=trainset(), seed=0)
    return {"metric_calls": calls[0], "lm_calls": len(lm.history), "answer": _compiled_answer(program), "ok": True}


def probe_miprov2() -> dict[str, Any]:
    """MIPROv2 with auto=None, num_candidates=2, num_trials=2 compiles a Predict."""
    import dspy

    lm = dummy_lm()
    dspy.configure(lm=lm)
    metric, calls = _counted(exact)
    optimizer = dspy.MIPROv2(metric=metric, auto=None, num_candidates=2, max_bootstrapped_demos=1,
                             max_labeled_demos=1, num_threads=1, verbose=False, track_stats=False)
    options: dict[str, Any] = {"num_trials": 2, "minibatch": False}
    if "requires_permission_to_run" in inspect.signature(optimizer.compile).parameters:
        options["requires_permission_to_run"] = False
    data = trainset()
    program = optimizer.compile(dspy.Predict("question -> answer"), trainset=data[:2], valset=data[2:], **options)
    return {"metric_calls": calls[0], "lm_calls": len(lm.history), "options": sorted(options), "answer": _compiled_answer(program), "ok": True}


PROBES: dict[str, Callable[[], dict[str, Any]]] = {
    "predict": probe_predict,
    "configure": probe_configure,
    "assertions": probe_assertions,
    "mlflow": probe_mlflow,
    "gepa": probe_gepa,
    "simba": probe_simba,
    "miprov2": probe_miprov2,
}


def run(names: list[str]) -> dict[str, dict[str, Any]]:
    """Run the named probes in order; each records ok, seconds and its measurements or error."""
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        began = time.perf_counter()
        try:
            outcome = {"ok": True, **PROBES[name]()}
        except Exception as exc:  # noqa: BLE001 - a failing probe is a finding
            outcome = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
        outcome["seconds"] = round(time.perf_counter() - began, 3)
        results[name] = outcome
    return results


if __name__ == "__main__":
    chosen = sys.argv[1:] or list(PROBES)
    unknown = [name for name in chosen if name not in PROBES]
    if unknown:
        sys.exit(f"unknown probe(s) {', '.join(unknown)}; known: {', '.join(PROBES)}")
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # library chatter goes to stderr; stdout carries only the JSON
    report = run(chosen)
    real_stdout.write(json.dumps(report, default=str) + "\n")
