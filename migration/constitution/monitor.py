"""Judge every output of the assistant's modules as DSPy produces it, through DSPy's callbacks.

`dspy.utils.callback.BaseCallback` and `dspy.settings.callbacks` are the same in DSPy 2.6.27
and 3.0.1: `Module.__call__`, `Module.acall` and `Evaluate.__call__` are wrapped by
`with_callbacks`, which calls `on_module_start/end` and `on_evaluate_start/end`. The start
handler gets the instance, the end handler only the call id, so the start keeps what the end
needs. DSPy logs and swallows exceptions raised by callbacks: a monitor never raises, it
hands each judged output to a sink (see `Tally`), and the pytest plugin fails the test.
"""
from __future__ import annotations

import dataclasses
import inspect
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple

import dspy
from dspy.utils.callback import BaseCallback

from migration.constitution.articles import Article, Scope
from migration.constitution.constitution import Constitution, Judgement, default, violations
from migration.constitution.model import OutputRecord, Violation, World, violated
from migration.probes.compat import own_forward

WATCHED = ("assistant.",)  # modules whose class is defined in these packages are judged
Sink = Callable[[OutputRecord, list[Judgement]], object]  # its return value is ignored
# Reported in place of the articles when judging an output failed: a bug of the constitution's code.
CHECKER_ERROR = Article("checker-error", "the constitution could not judge this output", Scope.OUTPUTS, "")


def lm_name(lm: Any) -> str | None:
    """An LM's name as reports give it: its `label`, else its `model`; None without an LM."""
    if lm is None:
        return None
    name = getattr(lm, "label", None) or getattr(lm, "model", None)
    return str(name) if name else None


def output_fields(outputs: Any) -> dict[str, Any]:
    """A module's return value as named fields."""
    if outputs is None:
        return {}
    if isinstance(outputs, dspy.Prediction):
        return dict(outputs.items())
    if isinstance(outputs, Mapping):
        return dict(outputs)
    if dataclasses.is_dataclass(outputs) and not isinstance(outputs, type):
        return {f.name: getattr(outputs, f.name) for f in dataclasses.fields(outputs)}
    return {"output": outputs}


def call_inputs(instance: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """`Module.__call__(*args, **kwargs)` inputs as the forward method's named arguments."""
    args, kwargs = inputs.get("args", ()), dict(inputs.get("kwargs", {}))
    if args:
        try:
            kwargs = dict(inspect.signature(instance.forward).bind_partial(*args, **kwargs).arguments)
        except (TypeError, ValueError):
            kwargs.update({f"arg{i}": a for i, a in enumerate(args)})
    return kwargs


class _Call(NamedTuple):
    """What a start handler keeps for the end handler of the same call."""

    module: str
    inputs: dict[str, Any]
    lm: str | None
    kind: str  # "module" | "evaluation"
    scope: Any = None  # the `dspy.context` the module's nested calls run in, without the monitor


def module_lms(instance: Any) -> list[str]:
    """The names of the LMs a module answers with: its predictors' own, else the current LM ("" unnamed)."""
    own = [lm_name(p.lm) or "" for p in instance.predictors() if getattr(p, "lm", None) is not None]
    return own or [lm_name(dspy.settings.lm) or ""]


class OutputMonitor(BaseCallback):
    """A DSPy callback that judges the outputs of watched modules and of `dspy.Evaluate`.

    It judges the outermost call of a watched module and steps out of the calls nested in it
    (its Predict, the adapter, the LM): DSPy dispatches to a callback at every wrapped call, and
    that dispatch costs more than the judging. Other callbacks (MLflow's, say) still see them.
    """

    def __init__(self, world: World, sink: Sink, constitution: Constitution | None = None,
                 watched: tuple[str, ...] = WATCHED) -> None:
        self.world, self.sink, self.watched = world, sink, watched
        self.constitution = constitution or default()
        self._started: dict[str, _Call] = {}
        self._evaluations: dict[str, list[str]] = {}  # evaluation call id -> names of the LMs that answered

    def watches(self, cls: type) -> bool:
        """A module class of a watched package whose `forward` is its own, not DSPy's.

        A DSPy module subclassed only to tune it (assistant.validation.BestOfN) does what DSPy
        does; its output is an attempt's, judged where the assistant's module returns it.
        """
        return cls.__module__.startswith(self.watched) and own_forward(cls)

    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        """For a watched module: keep its name, inputs and LM, and leave the callbacks of its nested calls."""
        cls = type(instance)
        if not self.watches(cls):
            return
        if self._evaluations:  # its LM calls will not reach on_lm_start: note its LMs now
            self._note(module_lms(instance))
        scope = dspy.context(callbacks=[c for c in dspy.settings.get("callbacks") or [] if c is not self])
        scope.__enter__()
        self._started[call_id] = _Call(f"{cls.__module__}.{cls.__qualname__}", call_inputs(instance, inputs),
                                       lm_name(dspy.settings.lm), "module", scope)

    def on_module_end(self, call_id: str, outputs: Any | None, exception: Exception | None = None) -> None:
        """Restore the callbacks; judge the output of a watched module (a call that raised produced none)."""
        started = self._started.pop(call_id, None)
        if started is None:
            return
        if started.scope is not None:
            started.scope.__exit__(None, None, None)
        if exception is None:
            self._judge(started, output_fields(outputs))

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        """While evaluations run, note the LMs that answer (across threads: a union per evaluation)."""
        if self._evaluations:
            self._note([lm_name(instance) or ""])

    def _note(self, names: list[str]) -> None:
        for seen in list(self._evaluations.values()):
            seen.extend(names)

    def on_evaluate_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        """Start noting the LMs that answer during this evaluation."""
        program = inputs.get("program")
        self._evaluations[call_id] = []
        self._started[call_id] = _Call("dspy.Evaluate", {"program": type(program).__name__}, None, "evaluation")

    def on_evaluate_end(self, call_id: str, outputs: Any | None, exception: Exception | None = None) -> None:
        """Judge an evaluation's score (a float in 2.6, an EvaluationResult in 3.0) with the LMs that made it."""
        started, seen = self._started.pop(call_id, None), self._evaluations.pop(call_id, [])
        if started is not None and exception is None:
            names = sorted(set(seen))
            lm = None if "" in names or not names else ", ".join(names)
            score = float(getattr(outputs, "score", outputs) or 0.0)
            self._judge(started._replace(inputs={**started.inputs, "lm_calls": len(seen)}, lm=lm), {"score": score})

    def _judge(self, started: _Call, fields: dict[str, Any]) -> None:
        record = OutputRecord(started.module, fields, started.inputs, started.lm, started.kind)
        try:
            judgements = self.constitution.judge(record, Scope.OUTPUTS, self.world)
        except Exception as error:  # noqa: BLE001 - DSPy would swallow it: an unjudged output must not pass silently
            judgements = [(CHECKER_ERROR, violated(f"a checker raised {type(error).__name__}: {error}"))]
        self.sink(record, judgements)


@dataclass
class Tally:
    """Counts of what was judged and every violation found; thread-safe."""

    outputs: int = 0
    operations: int = 0
    modules: Counter[str] = field(default_factory=Counter)
    applied: Counter[str] = field(default_factory=Counter)  # article id -> subjects it applied to
    violations: list[Violation] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_output(self, record: OutputRecord, judgements: list[Judgement]) -> list[Violation]:
        """Count a judged output; the violations it brought."""
        found = violations(judgements, record.describe)
        with self._lock:
            self.outputs += 1
            self.modules[record.module] += 1
            self.applied.update(a.id for a, verdict in judgements if verdict.applies)
            self.violations.extend(found)
        return found

    def add_operations(self, count: int, applied: Counter[str], found: list[Violation]) -> None:
        """Count operations judged by a guard."""
        with self._lock:
            self.operations += count
            self.applied.update(applied)
            self.violations.extend(found)

    def as_dict(self, constitution: Constitution) -> dict[str, Any]:
        """JSON form: totals, per module, per article (applied and broken), every violation."""
        broken = Counter(v.article for v in self.violations)
        return {
            "outputs_checked": self.outputs,
            "operations_checked": self.operations,
            "modules": dict(sorted(self.modules.items())),
            "articles": {a.id: {"title": a.title, "scope": a.scope.value, "applied": self.applied[a.id],
                                "violations": broken[a.id]} for a in constitution.articles},
            "violations": [v.as_dict() for v in self.violations],
        }
