"""The custom assertion framework: validate a module's output, retry with feedback, give up.

Written when DSPy 2.6.0 removed `dspy.Assert` / `dspy.Suggest` and their backtracking
(`assert_transform_module`). It keeps their semantics in plain Python:

- a `Validator` is a named check of `(inputs, prediction)` with a feedback message;
  hard validators behave like the old `dspy.Assert`, soft ones like `dspy.Suggest`;
- `run_with_validation` calls an attempt function; on failure it "backtracks": it calls the
  attempt again with `Feedback` (past outputs plus the failed messages), up to
  `RetryPolicy.max_retries` times;
- when retries run out, a hard failure raises `AssertionFailedError`, returns the policy's
  fallback, or returns the last prediction; a soft failure only logs.

Migration note (B-1006 Task 3.1): DSPy's native replacement is `dspy.Refine` /
`dspy.BestOfN` with a reward function; a validator's `check` has the reward's arguments.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

from assistant.ranking import tokenize

log = logging.getLogger(__name__)

T = TypeVar("T")
Check = Callable[[Mapping[str, Any], Any], bool]


@dataclass(frozen=True)
class Validator:
    """A named check of a module's output and the feedback given when it fails."""

    name: str
    check: Check  # (inputs, prediction) -> passed
    message: str  # shown to the LM on retry, so phrase it as an instruction
    hard: bool = True  # hard: like the old dspy.Assert; soft: like dspy.Suggest


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


def failed_validators(
    inputs: Mapping[str, Any], prediction: Any, validators: Sequence[Validator]
) -> list[Validator]:
    """The validators that `prediction` fails; a check that raises counts as failed."""
    failed = []
    for validator in validators:
        try:
            ok = validator.check(inputs, prediction)
        except Exception:  # a broken check must not hide the output it was checking
            log.exception("validator %s raised; counting it as failed", validator.name)
            ok = False
        if not ok:
            failed.append(validator)
    return failed


def run_with_validation(
    attempt: Callable[[Feedback | None], T],
    *,
    inputs: Mapping[str, Any],
    validators: Sequence[Validator],
    policy: RetryPolicy = RetryPolicy(),
    module: str = "module",
) -> ValidatedResult[T]:
    """Call `attempt(None)`, then `attempt(feedback)` while validators fail, per `policy`."""
    records: list[AttemptRecord] = []
    feedback: Feedback | None = None
    for number in range(1, policy.max_retries + 2):
        prediction = attempt(feedback)
        failed = failed_validators(inputs, prediction, validators)
        outputs = outputs_of(prediction)
        records.append(AttemptRecord(number, outputs, tuple(v.name for v in failed)))
        if not failed:
            return ValidatedResult(prediction, tuple(records), passed=True)
        log.info(
            "%s: attempt %d failed %s; backtracking with feedback",
            module, number, ", ".join(v.name for v in failed),
        )
        feedback = Feedback(number, outputs, tuple(v.message for v in failed))
    return _give_up(prediction, failed, tuple(records), inputs, policy, module)


def _give_up(
    prediction: T,
    failed: list[Validator],
    records: tuple[AttemptRecord, ...],
    inputs: Mapping[str, Any],
    policy: RetryPolicy,
    module: str,
) -> ValidatedResult[T]:
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


# Validators used by the assistant's modules.


def non_empty(output: str) -> Validator:
    """The output field is not blank."""
    return Validator(
        f"{output}_not_empty",
        lambda inputs, pred: bool(str(getattr(pred, output, "") or "").strip()),
        f"The {output} must not be empty.",
    )


def max_words(output: str, limit: int, *, hard: bool = True) -> Validator:
    """The output field has at most `limit` words."""
    return Validator(
        f"{output}_max_{limit}_words",
        lambda inputs, pred: len(str(getattr(pred, output, "") or "").split()) <= limit,
        f"The {output} must have at most {limit} words.",
        hard=hard,
    )


def grounded(output: str, source: str, min_overlap: float = 0.6) -> Validator:
    """Most of the output's terms occur in the input `source` (text or list of texts)."""

    def check(inputs: Mapping[str, Any], pred: Any) -> bool:
        value = inputs.get(source, "")
        context = " ".join(value) if isinstance(value, (list, tuple)) else str(value)
        terms = set(tokenize(str(getattr(pred, output, "") or "")))
        return not terms or len(terms & set(tokenize(context))) >= min_overlap * len(terms)

    return Validator(
        f"{output}_grounded_in_{source}",
        check,
        f"Use only facts stated in the {source}; copy its wording.",
    )


def mentions(output: str, source: str) -> Validator:
    """The output field contains the text of the input `source` (case-insensitive)."""
    return Validator(
        f"{output}_mentions_{source}",
        lambda inputs, pred: str(inputs.get(source, "")).lower()
        in str(getattr(pred, output, "") or "").lower(),
        f"The {output} must name the {source}.",
    )


def differs_from(output: str, source: str) -> Validator:
    """The output field is not a copy of the input `source`."""
    return Validator(
        f"{output}_differs_from_{source}",
        lambda inputs, pred: str(getattr(pred, output, "") or "").strip()
        != str(inputs.get(source, "")).strip(),
        f"The {output} must change the {source}, not repeat it.",
    )
