"""Probe of the assistant under one DSPy version, run *inside* an environment: `python compat_probe.py ROOT`.

Prints one JSON object: the dspy version, every `assistant.*` import (with its warnings),
every signature (fields, instructions, the ChatAdapter prompt for fixed inputs with and
without demos, the parse of a fixed completion), every `dspy.Module` of the assistant run
on fixed inputs with the offline `ExtractiveLM` (outputs and the prompts the LM received),
the components of Task 2.2 (ModelSwitcher, optimization loop, dashboard, role refinement,
`Assistant.from_repo(...).ask`) and a few dspy behaviours the assistant depends on.
Imports only the standard library at module level. A part that raises is recorded with its
error and never stops the others. Each part's `result` holds only values that should be
equal across versions (no timings, no temporary paths): `migration.evidence.compat_diff` compares them.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import pkgutil
import struct
import sys
import tempfile
import time
import traceback
import warnings
from importlib import import_module
from pathlib import Path
from typing import Any, Callable

QUESTION = "Which class does Task 4.1 add to memory_rehydrator.py?"
ROLE_FEEDBACK = (("coder", 1, "Show the change as a unified diff."), ("reviewer", 5, "Clear and grounded."))
COMPLETION_VALUE = "A fixed answer."


def timed(part: Callable[[], Any]) -> dict[str, Any]:
    """Run one part: {"ok", "seconds", "result"} or {"ok": False, "error", "traceback"}."""
    began = time.perf_counter()
    try:
        outcome: dict[str, Any] = {"ok": True, "result": part()}
    except Exception as exc:  # noqa: BLE001 - a failing part is a finding
        outcome = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-1500:]}
    outcome["seconds"] = round(time.perf_counter() - began, 3)
    return outcome


def sha(text: str | bytes) -> str:
    """A short sha256 of text or bytes."""
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()[:16]


def module_names() -> list[str]:
    """Every module of the `assistant` package (found on disk, not imported yet)."""
    package = import_module("assistant")
    return ["assistant"] + sorted(f"assistant.{m.name}" for m in pkgutil.iter_modules(package.__path__))


def import_all() -> dict[str, Any]:
    """Import each module, recording the warnings its import raised."""
    report = {}
    for name in module_names():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = timed(lambda name=name: import_module(name).__name__)
        outcome["warnings"] = sorted({f"{w.category.__name__}: {str(w.message)[:200]}" for w in caught})
        report[name] = outcome
    return report


def defined_here(base: type) -> dict[str, type]:
    """Subclasses of `base` defined in (not imported into) an importable assistant module."""
    found = {}
    for name in module_names():
        module = sys.modules.get(name)
        for attribute, value in vars(module or object()).items():
            if inspect.isclass(value) and issubclass(value, base) and value is not base and value.__module__ == name:
                found[f"{name}.{attribute}"] = value
    return dict(sorted(found.items()))


def fixed_value(name: str, annotation: Any) -> Any:
    """A deterministic value of a field's type."""
    text = str(annotation)
    if text.startswith("list") or "List" in text:
        return [f"First passage about {name}.", f"Second passage about {name}."]
    if annotation is int:
        return 3
    if annotation is bool:
        return True
    return f"Fixed {name}."


def signature_report(signature: Any) -> dict[str, Any]:
    """Fields, instructions, the ChatAdapter prompt for fixed inputs (0 and 2 demos), a parse."""
    import dspy

    fields = [{"name": n, "io": (f.json_schema_extra or {}).get("__dspy_field_type"), "annotation": str(f.annotation),
               "extra": {k: str(v) for k, v in sorted((f.json_schema_extra or {}).items())}}
              for n, f in signature.fields.items()]
    inputs = {n: fixed_value(n, f.annotation) for n, f in signature.input_fields.items()}
    outputs = {n: fixed_value(n, f.annotation) for n, f in signature.output_fields.items()}
    demos = [dspy.Example(**{k: v if not isinstance(v, str) else f"{v} (demo {i})" for k, v in {**inputs, **outputs}.items()})
             for i in (1, 2)]
    adapter = dspy.ChatAdapter()
    completion = "\n\n".join(f"[[ ## {n} ## ]]\n{COMPLETION_VALUE}" for n in signature.output_fields) + "\n\n[[ ## completed ## ]]"
    return {
        "instructions": signature.instructions,
        "fields": fields,
        "prompts": {"zero_shot": adapter.format(signature, demos=[], inputs=inputs),
                    "few_shot": adapter.format(signature, demos=demos, inputs=inputs)},
        "parsed": {k: str(v) for k, v in adapter.parse(signature, completion).items()},
    }


def signatures() -> dict[str, Any]:
    """The report of every signature the assistant defines."""
    import dspy

    return {name: timed(lambda s=sig: signature_report(s)) for name, sig in defined_here(dspy.Signature).items()}


def lm_calls(lm: Any) -> list[list[dict[str, str]]]:
    """The chat messages of every call the LM received."""
    return [[{"role": m["role"], "content": str(m["content"])} for m in call.get("messages") or []] for call in lm.history]


def run_module(cls: type, root: Path) -> dict[str, Any]:
    """Construct one assistant module and run it once on fixed inputs with ExtractiveLM."""
    import dspy

    from assistant.offline_lm import ExtractiveLM
    from assistant.retrieval import DocRetriever
    from assistant.roles import DEFAULT_PROMPTS

    runs: dict[str, tuple[Callable[[], Any], dict[str, Any]]] = {
        "DocsQA": (lambda: cls(DocRetriever.from_repo(root)), {"question": QUESTION}),
        "RoleRefiner": (cls, {"role": "coder", "current_prompt": DEFAULT_PROMPTS["coder"], "feedback": ROLE_FEEDBACK[0][2]}),
    }
    if cls.__name__ not in runs:
        raise LookupError(f"no fixed inputs for {cls.__module__}.{cls.__name__}: add it to compat_probe.run_module")
    make, inputs = runs[cls.__name__]
    lm = ExtractiveLM()
    with dspy.context(lm=lm):
        prediction = make()(**inputs)
    output = {k: (v if isinstance(v, (str, int, float, bool)) else json.dumps(v, default=str)) for k, v in prediction.items()}
    return {"inputs": inputs, "output": output, "lm_calls": lm_calls(lm)}


def own_forward(cls: type) -> bool:
    """Whether `cls.forward` is the assistant's: a subclass that only tunes a DSPy module
    (assistant.validation.BestOfN) runs inside the modules that use it, and is probed there."""
    return not (getattr(getattr(cls, "forward", None), "__module__", None) or "").startswith("dspy.")


def modules(root: Path) -> dict[str, Any]:
    """The run of every dspy.Module the assistant defines with a `forward` of its own."""
    import dspy

    found = {name: cls for name, cls in defined_here(dspy.Module).items() if own_forward(cls)}
    return {name: timed(lambda c=cls: run_module(c, root)) for name, cls in found.items()}


def model_switcher() -> dict[str, Any]:
    """Routing from the environment, `use()` scoping, and two threads with different models at once."""
    import threading

    import dspy

    from assistant.model_switcher import ModelSwitcher, TaskType
    from assistant.offline_lm import ExtractiveLM

    environ = {"GITOPS_LM_QA": "openai/probe-model", "GITOPS_LM_QA_API_BASE": "http://127.0.0.1:9/v1"}
    routed = ModelSwitcher.from_environ(environ)
    labels = {t.value: routed.label(t) for t in TaskType}
    reviewer, default = ExtractiveLM(), ExtractiveLM()
    switcher = ModelSwitcher(default, {(TaskType.QA, "reviewer"): reviewer})
    before = dspy.settings.lm
    with switcher.use(TaskType.QA, "reviewer") as lm:
        inside = dspy.settings.lm is reviewer and lm is reviewer
    barrier, seen = threading.Barrier(2), {}

    def worker(role: str) -> None:
        with switcher.use(TaskType.QA, role):
            barrier.wait(timeout=10)
            seen[role] = "reviewer" if dspy.settings.lm is reviewer else "default" if dspy.settings.lm is default else "other"

    threads = [threading.Thread(target=worker, args=(role,)) for role in ("reviewer", "coder")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"labels": labels, "default_is_offline": type(ModelSwitcher.from_environ({}).default).__name__,
            "use_sets_lm": inside, "use_restores_lm": dspy.settings.lm is before, "threads": dict(sorted(seen.items()))}


def optimization(root: Path, reports: list[Any]) -> dict[str, Any]:
    """BootstrapFewShot compile and evaluation before and after, on the shipped devset; the compiled program's prompt."""
    import dspy

    from assistant.devset import load_devset
    from assistant.model_switcher import ModelSwitcher
    from assistant.offline_lm import ExtractiveLM
    from assistant.optimization import run_optimization
    from assistant.qa import DocsQA
    from assistant.retrieval import DocRetriever

    result = run_optimization(DocsQA(DocRetriever.from_repo(root)), load_devset(), switcher=ModelSwitcher(ExtractiveLM()))
    reports += [result.baseline, result.optimized]  # the dashboard draws these
    lm = ExtractiveLM()
    with dspy.context(lm=lm):
        answer = result.program(question=QUESTION).answer
    return {"baseline": dict(result.baseline.metrics), "optimized": dict(result.optimized.metrics), "demos": result.demos,
            "gain": result.gain, "answers": [e.answer for e in result.optimized.examples],
            "compiled_answer": answer, "lm_calls": lm_calls(lm)}


def png_size(data: bytes) -> list[int]:
    """Width and height from a PNG's IHDR chunk; ValueError if it is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return list(struct.unpack(">II", data[16:24]))


def dashboard(reports: list[Any]) -> dict[str, Any]:
    """The optimization reports as the Markdown table and the PNG chart."""
    from assistant.dashboard import write_dashboard

    if not reports:
        raise RuntimeError("the optimization part failed: no reports to draw")
    files = write_dashboard(reports, Path(tempfile.mkdtemp(prefix="compat-dashboard-")))
    data = files.chart.read_bytes()
    table = [line for line in files.markdown.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    return {"table": table, "png_size": png_size(data), "png_sha": sha(data), "png_bytes_over_1k": len(data) > 1024}


def role_refinement() -> dict[str, Any]:
    """Feedback rates `coder` low and `reviewer` high: only `coder` is rewritten."""
    from assistant.model_switcher import ModelSwitcher
    from assistant.offline_lm import ExtractiveLM
    from assistant.role_refinement import RoleFeedback, refine_roles
    from assistant.roles import RoleRegistry

    report = refine_roles(RoleRegistry.defaults(), [RoleFeedback(*f) for f in ROLE_FEEDBACK], switcher=ModelSwitcher(ExtractiveLM()))
    return {"changes": [{"role": c.role, "versions": [c.before.version, c.after.version], "changed": c.changed,
                         "prompt": c.after.prompt, "lm": c.lm} for c in report.changes], "kept": list(report.kept)}


def integration(root: Path) -> dict[str, Any]:
    """`Assistant.from_repo(root).ask(...)` with a SQLite memory, in two roles."""
    from assistant.app import Assistant
    from assistant.memory_rehydrator import MemoryRehydrator

    with MemoryRehydrator() as memory:
        memory.remember("note:probe", "Probe note\nTask 2.2 compares DSPy 2.6.27 with DSPy 3.0.1.")
        app = Assistant.from_repo(root, environ={}, memory=memory)
        answers = [app.ask(QUESTION), app.ask("What does Task 2.2 compare?", role="reviewer")]
        recorded = len(memory.recent_events("default"))
    return {"answers": [{k: list(v) if isinstance(v, tuple) else v for k, v in vars(a).items()} for a in answers],
            "events_recorded": recorded}


def dspy_behaviour() -> dict[str, Any]:
    """dspy behaviours the assistant's code adapts to (docs/assistant.md), measured."""
    import asyncio

    import dspy
    from dspy.utils import DummyLM

    lm = DummyLM({"": {"answer": "4"}})
    devset = [dspy.Example(question="What is 2+2?", answer="4").with_inputs("question")]
    with dspy.context(lm=lm):
        score = dspy.Evaluate(devset=devset, metric=lambda e, p, t=None: p.answer == e.answer, display_progress=False)(
            dspy.Predict("question -> answer"))
        reaches_thread = asyncio.run(asyncio.to_thread(lambda: dspy.settings.lm is lm))
    try:
        import_module("dspy.primitives.program")
        program_module = True
    except ImportError:
        program_module = False
    call = inspect.signature(dspy.Evaluate.__call__).parameters
    max_errors = inspect.signature(dspy.BootstrapFewShot.__init__).parameters["max_errors"].default
    return {"evaluate_returns": type(score).__name__,
            "evaluate_call_accepts": sorted(k for k in ("return_all_scores", "return_outputs") if k in call),
            "context_lm_reaches_asyncio_to_thread": reaches_thread, "dspy.primitives.program_importable": program_module,
            "bootstrap_max_errors_default": str(max_errors)}


def main(root: Path) -> dict[str, Any]:
    """Every part of the probe, in order (the optimization part feeds the dashboard)."""
    report: dict[str, Any] = {"imports": import_all()}
    import dspy

    report.update(dspy_version=dspy.__version__, python=sys.version.split()[0], signatures=signatures(), modules=modules(root))
    reports: list[Any] = []
    parts: dict[str, Callable[[], Any]] = {
        "model_switcher": model_switcher, "optimization": lambda: optimization(root, reports),
        "dashboard": lambda: dashboard(reports), "role_refinement": role_refinement,
        "integration": lambda: integration(root), "dspy_behaviour": dspy_behaviour}
    report["components"] = {name: timed(part) for name, part in parts.items()}
    return report


if __name__ == "__main__":
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # library chatter goes to stderr; stdout carries only the JSON
    real_stdout.write(json.dumps(main(Path(sys.argv[1]).resolve()), default=str) + "\n")
