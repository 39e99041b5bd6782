"""Validators and the reward functions built from them, for `dspy.BestOfN` and `dspy.Refine`.

A `Validator` is a named check of `(inputs, prediction)`: the very arguments DSPy passes a
reward function. `reward(validators)` turns a list of them into one: the share that pass,
so 1.0 (the threshold) means every check passed. Hard validators play the removed
`dspy.Assert`, soft ones `dspy.Suggest`; what a failure does is `assistant.validation`'s job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.ranking import tokenize

log = logging.getLogger(__name__)

Check = Callable[[Mapping[str, Any], Any], bool]
RewardFn = Callable[[Mapping[str, Any], Any], float]


@dataclass(frozen=True)
class Validator:
    """A named check of a module's output and the feedback given when it fails."""

    name: str
    check: Check  # (inputs, prediction) -> passed
    message: str  # shown to the LM on retry, so phrase it as an instruction
    hard: bool = True  # hard: like the old dspy.Assert; soft: like dspy.Suggest


def failed_validators(inputs: Mapping[str, Any], prediction: Any, validators: Sequence[Validator]) -> list[Validator]:
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


def score(failed: Sequence[Validator], validators: Sequence[Validator]) -> float:
    """The share of `validators` not in `failed` (1.0 when there are none)."""
    return 1.0 - len(failed) / len(validators) if validators else 1.0


def reward(validators: Sequence[Validator]) -> RewardFn:
    """A reward function for `dspy.BestOfN` / `dspy.Refine`: the share of validators passed."""
    chosen = tuple(validators)
    return lambda inputs, prediction: score(failed_validators(inputs, prediction, chosen), chosen)


def _text(prediction: Any, output: str) -> str:
    return str(getattr(prediction, output, "") or "")


def non_empty(output: str) -> Validator:
    """The output field is not blank."""
    return Validator(
        f"{output}_not_empty",
        lambda inputs, pred: bool(_text(pred, output).strip()),
        f"The {output} must not be empty.",
    )


def max_words(output: str, limit: int, *, hard: bool = True) -> Validator:
    """The output field has at most `limit` words."""
    return Validator(
        f"{output}_max_{limit}_words",
        lambda inputs, pred: len(_text(pred, output).split()) <= limit,
        f"The {output} must have at most {limit} words.",
        hard=hard,
    )


def grounded(output: str, source: str, min_overlap: float = 0.6) -> Validator:
    """Most of the output's terms occur in the input `source` (text or list of texts)."""

    def check(inputs: Mapping[str, Any], pred: Any) -> bool:
        value = inputs.get(source, "")
        context = " ".join(value) if isinstance(value, (list, tuple)) else str(value)
        terms = set(tokenize(_text(pred, output)))
        return len(terms & set(tokenize(context))) >= min_overlap * len(terms)

    return Validator(
        f"{output}_grounded_in_{source}", check, f"Use only facts stated in the {source}; copy its wording."
    )


def mentions(output: str, source: str) -> Validator:
    """The output field contains the text of the input `source` (case-insensitive)."""
    return Validator(
        f"{output}_mentions_{source}",
        lambda inputs, pred: str(inputs.get(source, "")).lower() in _text(pred, output).lower(),
        f"The {output} must name the {source}.",
    )


def differs_from(output: str, source: str) -> Validator:
    """The output field is not a copy of the input `source`."""
    return Validator(
        f"{output}_differs_from_{source}",
        lambda inputs, pred: _text(pred, output).strip() != str(inputs.get(source, "")).strip(),
        f"The {output} must change the {source}, not repeat it.",
    )
