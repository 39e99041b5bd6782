"""Validated calls on `dspy.BestOfN`: retry with the validators' feedback, then give up per policy.

`run_validated` hands the retry loop to `dspy.BestOfN`: up to `max_retries + 1` attempts,
scored by the validators' reward (`assistant.rewards`), stopping at the first that passes
them all (reward 1.0). What BestOfN does not do is kept from the framework it replaces
(`assistant/assertions.py` before B-1006 Task 3.1):

- each retry is told why the last attempt failed (`Feedback`: its outputs and the failed
  validators' messages), where `dspy.Refine` would spend an LM call writing advice;
- when no attempt passes, a hard failure raises `AssertionFailedError`, returns the
  policy's fallback or the last attempt; a soft one returns the last attempt. BestOfN
  alone would return its best-scored attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

import dspy

from assistant.rewards import Validator, failed_validators, score

log = logging.getLogger(__name__)

T = TypeVar("T")


class OnFailure(str, Enum):
    """What a hard failure does once the retries are used up."""

    RAISE = "raise"
    FALLBACK = "fallback"
    RETURN_LAST = "return_last"


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how to give up."""

    max_retries: int = 2
    on_failure: OnFailure = OnFailure.RAISE
    fallback: Callable[[Mapping[str, Any]], Any] | None = None  # inputs -> prediction

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.on_failure is OnFailure.FALLBACK and self.fallback is None:
            raise ValueError("on_failure=fallback needs a fallback function")


@dataclass(frozen=True)
class Feedback:
    """What a retry is told: its previous outputs and the messages of the failed validators."""

    attempt: int  # the number of the attempt that failed, from 1
    past_outputs: Mapping[str, Any]
    messages: tuple[str, ...]

    @property
    def text(self) -> str:
        """The messages, one per line, as an LM input field."""
        return "\n".join(f"- {m}" for m in self.messages)

    def past(self, name: str) -> str:
        """A previous output field as text ('' if absent)."""
        return str(self.past_outputs.get(name, "") or "")


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt: its outputs and the names of the validators it failed."""

    attempt: int
    outputs: Mapping[str, Any]
    failed: tuple[str, ...]


@dataclass(frozen=True)
class ValidatedResult(Generic[T]):
    """The prediction finally returned and the trail of attempts behind it."""

    prediction: T
    attempts: tuple[AttemptRecord, ...]
    passed: bool  # every hard and soft validator passed on the returned prediction
    fell_back: bool = False

    @property
    def retries(self) -> int:
        """Attempts made after the first."""
        return len(self.attempts) - 1


class AssertionFailedError(RuntimeError):
    """Hard validators still failed after every retry."""

    def __init__(self, module: str, attempts: tuple[AttemptRecord, ...]) -> None:
        self.module = module
        self.attempts = attempts
        last = attempts[-1].failed if attempts else ()
        super().__init__(
            f"{module}: output failed {', '.join(last)} after {len(attempts)} attempt(s); "
            "raise max_retries or relax the validators"
        )


def outputs_of(prediction: Any) -> dict[str, Any]:
    """The output fields of a dspy.Prediction (or any mapping-like object) as a dict."""
    items = getattr(prediction, "items", None)
    return dict(items()) if callable(items) else {"value": prediction}


class _NoLM:
    """What BestOfN reads off its module's LM: a temperature, and a copy per attempt (FACTS.md).

    The attempt function calls the caller's own LM; copying a real one for every attempt
    (a deep copy, history included) would cost time and change nothing.
    """

    kwargs = {"temperature": 0.0}

    def copy(self, **kwargs: Any) -> _NoLM:
        """Itself: there is nothing to copy."""
        return self


class _Attempts:
    """One validated call as dspy.BestOfN sees it: the module it runs and the reward it scores with.

    Not a `dspy.Module`: it has only the four methods BestOfN calls, so that module callbacks
    (tracing, the constitution monitor) see the attempt's own predictors, as before, and not
    every rejected attempt as a module output.
    """

    def __init__(self, attempt: Callable[[Feedback | None], Any], validators: Sequence[Validator], name: str) -> None:
        self.attempt, self.validators, self.name = attempt, tuple(validators), name
        self.records: list[AttemptRecord] = []
        self.feedback: Feedback | None = None
        self.last: tuple[Any, list[Validator]] = (None, [])

    def get_lm(self) -> _NoLM:
        """The LM BestOfN copies per attempt: none (the attempt function uses the caller's)."""
        return _NoLM()

    def deepcopy(self) -> _Attempts:
        """BestOfN copies its module per attempt; this call's trail must stay shared."""
        return self

    def set_lm(self, lm: _NoLM) -> None:
        """Ignored: the attempt function calls the LM current in the caller's context."""

    def __call__(self, **inputs: Any) -> Any:
        """One attempt: the first without feedback, then with the last failure's."""
        return self.attempt(self.feedback)

    def reward(self, inputs: Mapping[str, Any], prediction: Any) -> float:
        """Score an attempt by its validators and record it for the next one's feedback."""
        failed = failed_validators(inputs, prediction, self.validators)
        number, outputs, names = len(self.records) + 1, outputs_of(prediction), tuple(v.name for v in failed)
        self.records.append(AttemptRecord(number, outputs, names))
        self.last = (prediction, failed)
        if failed:
            log.info("%s: attempt %d failed %s; backtracking with feedback", self.name, number, ", ".join(names))
            self.feedback = Feedback(number, outputs, tuple(v.message for v in failed))
        return score(failed, self.validators)


class BestOfN(dspy.BestOfN):
    """dspy.BestOfN without DSPy 3.0's stack walk on every lookup of `forward`.

    DSPy 3.0 added `Module.__getattribute__`, which calls `inspect.stack()` whenever
    `forward` is looked up, only to warn about direct `module.forward(...)` calls (dspy
    PR #8380). A stack walk costs milliseconds in a deep stack (about 5 ms under pytest),
    more than a whole validated call with a fast LM (B-1006 Task 3.1 benchmark). The call
    still goes through `Module.__call__` (callbacks, usage tracking); only that warning's
    walk is skipped. DSPy 2.6 has no such method, so this changes nothing there. Named like
    its base, so that callbacks and traces show `BestOfN` as before.
    """

    def __getattribute__(self, name: str) -> Any:
        return object.__getattribute__(self, name)


def run_validated(
    attempt: Callable[[Feedback | None], T],
    *,
    inputs: Mapping[str, Any],
    validators: Sequence[Validator],
    policy: RetryPolicy = RetryPolicy(),
    module: str = "module",
) -> ValidatedResult[T]:
    """Call `attempt(None)`, then `attempt(feedback)` while validators fail, per `policy`."""
    attempts = _Attempts(attempt, validators, module)
    # fail_count=-1: an attempt that raises propagates at once (BestOfN re-raises when the
    # attempt index exceeds it); its default swallows up to N errors and returns None.
    best_of = BestOfN(
        attempts,
        N=policy.max_retries + 1,
        reward_fn=attempts.reward,
        threshold=1.0,  # type: ignore[arg-type]
        fail_count=-1,
    )
    best = best_of(**inputs)
    prediction, failed = attempts.last
    records = tuple(attempts.records)
    if not failed:
        return ValidatedResult(best, records, passed=True)
    if not any(v.hard for v in failed):
        log.warning("%s: suggestions still unmet: %s", module, ", ".join(v.name for v in failed))
        return ValidatedResult(prediction, records, passed=False)
    if policy.on_failure is OnFailure.FALLBACK and policy.fallback is not None:
        log.warning("%s: giving up after %d attempts; using the fallback", module, len(records))
        return ValidatedResult(policy.fallback(inputs), records, passed=False, fell_back=True)
    if policy.on_failure is OnFailure.RETURN_LAST:
        log.warning("%s: giving up after %d attempts; returning the last output", module, len(records))
        return ValidatedResult(prediction, records, passed=False)
    raise AssertionFailedError(module, records)
