"""Hard budgets around any optimizer: metric calls, LM calls, tokens and wall time.

Optimizers treat their own budgets as targets (GEPA's `max_metric_calls=20` ended at 22
calls, FACTS.md), so `BudgetGuard` counts what they really use and stops them. It sits in
two places of the optimizer's call path: a wrapper around the metric, and a DSPy callback
(`on_lm_start/end`, `on_module_start/end`; the same in DSPy 2.6.27 and 3.0.1) that sees
every LM call. Both raise `BudgetExceeded` *before* the call that would go over a limit.
A completion's tokens are known only after its call, so an LM call reserves its most
(prompt plus `max_tokens` per completion) before it starts and pays what it used when it
ends: a call is refused when its reservation, added to what is used and reserved by the
calls still in flight, would cross the token limit. Without that, the last admitted
prompt's completion went past the limit (7858 tokens used of 7849 in one Task 3.3 run).

`BudgetExceeded` derives from `BaseException`, like `KeyboardInterrupt`: DSPy swallows
`Exception`s raised by callbacks (`dspy/utils/callback.py`), `dspy.Evaluate` counts them as
example errors and GEPA turns them into failure scores, so an `Exception` would be logged
and the optimizer would carry on. Once tripped the guard refuses every later call too.

While it watches, the guard remembers the last top-level module each thread ran; the
metric call that follows in that thread scores it. On a stop, `run` returns the candidate
with the best mean score seen (a deep copy), or the student when none was scored.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import dspy
from dspy.utils.callback import BaseCallback

Clock = Callable[[], float]
CHARS_PER_TOKEN = 4  # the counted estimate of tokens: see `estimate_tokens`
DIMENSIONS = ("metric_calls", "lm_calls", "tokens", "seconds")


class BudgetExceeded(BaseException):
    """An optimizer reached one of its hard limits; raised before the call that would pass it."""

    def __init__(self, dimension: str, used: float, limit: float) -> None:
        self.dimension, self.used, self.limit = dimension, used, limit
        super().__init__(f"budget exceeded: {dimension} would go past its limit of {limit:g} (used {used:g})")


@dataclass(frozen=True)
class Budget:
    """Hard limits per optimizer run; None leaves a dimension unlimited."""

    metric_calls: int | None = None
    lm_calls: int | None = None
    tokens: int | None = None
    seconds: float | None = None

    def limits(self) -> dict[str, float]:
        """The set limits by dimension."""
        return {name: value for name, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class Usage:
    """What an optimizer run used so far."""

    metric_calls: int = 0
    lm_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Stop:
    """How a guarded run ended on a violation: the limit, the usage, and the program kept."""

    violation: BudgetExceeded
    usage: Usage
    program: dspy.Module
    kept: str  # "best candidate" (scored through the metric) or "student" (nothing scored)
    score: float | None  # the kept program's mean metric score over `scored` calls
    scored: int
    candidates: int  # distinct programs the metric scored


def estimate_tokens(text: str) -> int:
    """A counted token estimate: characters / 4, rounded up (offline LMs report no usage)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def prompt_text(inputs: dict[str, Any]) -> str:
    """The text an LM call sends: its messages' contents or its prompt."""
    messages = inputs.get("messages") or []
    return "".join(str(m.get("content", "")) for m in messages) or str(inputs.get("prompt") or "")


def completion_ceiling(instance: Any, inputs: dict[str, Any]) -> float:
    """The most tokens an LM call may complete: `max_tokens` (the call's, else the LM's) times `n`; inf if unset."""
    # dspy.LM keeps max_tokens in `kwargs` (reasoning models: max_completion_tokens), and the
    # call's own kwargs override it, as DSPy merges them (`{**self.kwargs, **kwargs}`).
    kwargs = {**(getattr(instance, "kwargs", None) or {}), **(inputs.get("kwargs") or {})}
    ceiling = kwargs.get("max_tokens", kwargs.get("max_completion_tokens"))
    return math.inf if ceiling is None else int(ceiling) * int(kwargs.get("n") or 1)


def metric_score(value: Any) -> float:
    """A metric's return value as a number (GEPA-style metrics return a Prediction with `score`)."""
    return float(getattr(value, "score", value))


class BudgetGuard(BaseCallback):
    """Counts metric calls, LM calls, tokens and seconds of one optimizer run and enforces `budget`."""

    def __init__(self, budget: Budget, *, clock: Clock = time.monotonic,
                 on_violation: Callable[[Stop], object] | None = None) -> None:
        self.budget, self.clock, self.on_violation = budget, clock, on_violation
        self._lock = threading.Lock()
        self._local = threading.local()
        self._counts = {"metric_calls": 0, "lm_calls": 0, "tokens": 0}  # tokens include `_reserved`
        self._in_flight: dict[str, int] = {}  # LM call id -> completion tokens it reserved
        self._reserved = 0  # their sum: held against the limit until each call ends
        self._started: float | None = None
        self._stopped: float | None = None  # the clock at the violation: later work is not the optimizer's
        self._scores: dict[int, tuple[dspy.Module, float, int]] = {}  # id -> (program, total, n)
        self._candidate_type: type | None = None
        self.violation: BudgetExceeded | None = None
        self.stop: Stop | None = None

    def usage(self) -> Usage:
        """A consistent snapshot of the counters."""
        with self._lock:
            now = self._stopped if self._stopped is not None else self.clock()
            elapsed = 0.0 if self._started is None else now - self._started
            return Usage(seconds=round(elapsed, 3), **{**self._counts, "tokens": self._tokens_used()})

    def _tokens_used(self) -> int:
        return self._counts["tokens"] - self._reserved

    def _trip(self, dimension: str, used: float, limit: float) -> BudgetExceeded:
        if self.violation is None:
            self.violation = BudgetExceeded(dimension, used, limit)
            self._stopped = self.clock()
        return self.violation

    def _charge(self, **amounts: float) -> None:
        """Count every amount, or none if one would pass its limit: then raise (call under the lock)."""
        if self.violation is not None:
            raise self.violation
        if self._started is not None and self.budget.seconds is not None:
            elapsed = self.clock() - self._started
            if elapsed >= self.budget.seconds:
                raise self._trip("seconds", round(elapsed, 3), self.budget.seconds)
        for dimension, amount in amounts.items():
            limit = getattr(self.budget, dimension)
            if limit is not None and self._counts[dimension] + amount > limit:
                used = self._tokens_used() if dimension == "tokens" else self._counts[dimension]
                raise self._trip(dimension, used, limit)
        for dimension, amount in amounts.items():
            self._counts[dimension] += amount

    def wrap_metric(self, metric: Callable[..., Any]) -> Callable[..., Any]:
        """`metric`, counted and refused past the limit; its scores credit the thread's last program."""

        def guarded_metric(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._charge(metric_calls=1)
            value = metric(*args, **kwargs)
            self._credit(getattr(self._local, "program", None), value)
            return value

        return guarded_metric

    def _credit(self, program: dspy.Module | None, value: Any) -> None:
        if program is None or (self._candidate_type and not isinstance(program, self._candidate_type)):
            return
        try:
            score = metric_score(value)
        except (TypeError, ValueError):
            return
        with self._lock:
            _, total, n = self._scores.get(id(program), (program, 0.0, 0))
            self._scores[id(program)] = (program, total + score, n + 1)

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        """Count an LM call and its prompt, reserve its completion; refuse it if that could pass a limit."""
        if self.budget.tokens is None:
            with self._lock:
                self._charge(lm_calls=1)
            return
        prompt, ceiling = estimate_tokens(prompt_text(inputs)), completion_ceiling(instance, inputs)
        # One check under one lock for the whole reservation, so calls in other threads cannot
        # both take the last tokens: GEPA evaluates "with `Evaluate`" in `num_threads` threads
        # (https://dspy.ai/api/optimizers/GEPA), as do SIMBA and MIPROv2. `assistant.optimizers`
        # passes num_threads=1 today, so run2's overshoot was the completion, not a race.
        with self._lock:
            self._charge(lm_calls=1, tokens=prompt + ceiling)  # an unbounded call (inf) is refused
            self._in_flight[call_id] = int(ceiling)
            self._reserved += int(ceiling)

    def on_lm_end(self, call_id: str, outputs: Any | None, exception: Exception | None = None) -> None:
        """Charge the tokens used instead of the reservation; a completion past it that crosses the limit trips."""
        if self.budget.tokens is None:
            return
        text = "".join(str(o.get("text", "")) if isinstance(o, dict) else str(o) for o in outputs or [])
        completion = estimate_tokens(text)
        with self._lock:
            ceiling = self._in_flight.pop(call_id, None)
            if ceiling is None:  # not admitted by this guard (it started before `watching`)
                return
            self._reserved -= ceiling
            self._counts["tokens"] += completion - ceiling
            if self._counts["tokens"] > self.budget.tokens:
                raise self._trip("tokens", self._tokens_used(), self.budget.tokens)

    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        """Refuse modules after a stop (DSPy then skips their end callbacks); remember the outermost one."""
        if self.violation is not None:
            raise self.violation
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._local.program = instance
        self._local.depth = depth + 1

    def on_module_end(self, call_id: str, outputs: Any | None, exception: Exception | None = None) -> None:
        """Leave a module."""
        self._local.depth = max(0, getattr(self._local, "depth", 1) - 1)

    @contextmanager
    def watching(self) -> Iterator[BudgetGuard]:
        """Start the clock and add the guard to DSPy's callbacks in this thread (and the threads DSPy starts)."""
        with self._lock:
            self._started = self.clock() if self._started is None else self._started
        with dspy.context(callbacks=[*dspy.settings.get("callbacks", []), self]):
            yield self

    def best(self, student: dspy.Module) -> tuple[dspy.Module, str, float | None, int]:
        """The best-scoring candidate seen (a copy), else the student: program, which, score, scored calls."""
        with self._lock:
            scored = [(total / n, n, program) for program, total, n in self._scores.values()]
        if not scored:
            return student, "student", None, 0
        score, n, program = max(scored, key=lambda item: (item[0], item[1]))
        return program.deepcopy(), "best candidate", round(score, 4), n

    def run(self, student: dspy.Module, metric: Callable[..., Any],
            compile: Callable[[Callable[..., Any]], dspy.Module]) -> dspy.Module:
        """`compile(guarded_metric)` under the guard; on a violation the kept program, after `on_violation`."""
        self._candidate_type = type(student)
        try:
            with self.watching():
                return compile(self.wrap_metric(metric))
        except BaseException as error:  # noqa: BLE001 - an optimizer may wrap our stop in its own error
            if self.violation is None or isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise
        program, kept, score, scored = self.best(student)
        with self._lock:
            candidates = len(self._scores)
        self.stop = Stop(self.violation, self.usage(), program, kept, score, scored, candidates)
        if self.on_violation is not None:
            self.on_violation(self.stop)
        return program
