"""The custom assertion framework: retries with feedback, gives up per policy."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import dspy
import pytest

from assistant.assertions import (
    AssertionFailedError,
    Feedback,
    OnFailure,
    RetryPolicy,
    Validator,
    differs_from,
    failed_validators,
    grounded,
    max_words,
    mentions,
    non_empty,
    run_with_validation,
)


class ScriptedModule:
    """Returns scripted answers in turn and records the feedback each call received."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.feedback: list[Feedback | None] = []

    def __call__(self, feedback: Feedback | None) -> dspy.Prediction:
        self.feedback.append(feedback)
        return dspy.Prediction(answer=self.answers[len(self.feedback) - 1])


SHORT = max_words("answer", 2)
INPUTS: Mapping[str, Any] = {"question": "q"}


def test_a_passing_first_attempt_is_returned_without_retry() -> None:
    module = ScriptedModule("two words")
    result = run_with_validation(module, inputs=INPUTS, validators=[SHORT])
    assert (result.prediction.answer, result.passed, result.retries) == ("two words", True, 0)
    assert module.feedback == [None]


def test_a_retry_receives_past_outputs_and_the_failed_messages() -> None:
    module = ScriptedModule("far too many words here", "ok now")
    result = run_with_validation(module, inputs=INPUTS, validators=[SHORT, non_empty("answer")])
    assert result.prediction.answer == "ok now" and result.passed
    feedback = module.feedback[1]
    assert feedback is not None
    assert feedback.attempt == 1
    assert feedback.past("answer") == "far too many words here"
    assert feedback.messages == ("The answer must have at most 2 words.",)
    assert feedback.text == "- The answer must have at most 2 words."
    assert [a.failed for a in result.attempts] == [("answer_max_2_words",), ()]


def test_gives_up_after_max_retries_by_raising() -> None:
    module = ScriptedModule("a b c", "d e f", "g h i", "never")
    with pytest.raises(AssertionFailedError) as raised:
        run_with_validation(
            module,
            inputs=INPUTS,
            validators=[SHORT],
            policy=RetryPolicy(max_retries=2),
            module="QA",
        )
    assert len(module.feedback) == 3
    assert str(raised.value) == (
        "QA: output failed answer_max_2_words after 3 attempt(s); raise max_retries or relax the validators"
    )
    assert [a.outputs["answer"] for a in raised.value.attempts] == ["a b c", "d e f", "g h i"]


def test_fallback_replaces_the_output_when_retries_run_out() -> None:
    policy = RetryPolicy(
        max_retries=1,
        on_failure=OnFailure.FALLBACK,
        fallback=lambda inputs: dspy.Prediction(answer=f"unknown: {inputs['question']}"),
    )
    result = run_with_validation(
        ScriptedModule("a b c", "d e f"), inputs=INPUTS, validators=[SHORT], policy=policy
    )
    assert (result.prediction.answer, result.passed, result.fell_back) == (
        "unknown: q",
        False,
        True,
    )


def test_return_last_keeps_the_final_attempt() -> None:
    policy = RetryPolicy(max_retries=1, on_failure=OnFailure.RETURN_LAST)
    result = run_with_validation(
        ScriptedModule("a b c", "d e f"), inputs=INPUTS, validators=[SHORT], policy=policy
    )
    assert (result.prediction.answer, result.passed, result.fell_back) == ("d e f", False, False)


def test_soft_validators_retry_but_never_raise() -> None:
    soft = max_words("answer", 2, hard=False)
    module = ScriptedModule("a b c", "d e f")
    result = run_with_validation(
        module, inputs=INPUTS, validators=[soft], policy=RetryPolicy(max_retries=1)
    )
    assert (result.prediction.answer, result.passed, len(module.feedback)) == ("d e f", False, 2)


def test_zero_retries_means_one_attempt() -> None:
    module = ScriptedModule("a b c")
    with pytest.raises(AssertionFailedError):
        run_with_validation(
            module, inputs=INPUTS, validators=[SHORT], policy=RetryPolicy(max_retries=0)
        )
    assert module.feedback == [None]


def test_backtracking_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="assistant.assertions")
    run_with_validation(
        ScriptedModule("a b c", "ok"), inputs=INPUTS, validators=[SHORT], module="QA"
    )
    assert "QA: attempt 1 failed answer_max_2_words; backtracking with feedback" in caplog.messages


def test_a_raising_check_counts_as_failed(caplog: pytest.LogCaptureFixture) -> None:
    broken = Validator("broken", lambda inputs, pred: 1 / 0 > 0, "never")
    assert failed_validators(INPUTS, dspy.Prediction(answer="x"), [broken]) == [broken]
    assert "validator broken raised" in caplog.text


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (lambda: RetryPolicy(max_retries=-1), "max_retries must be >= 0, got -1"),
        (
            lambda: RetryPolicy(on_failure=OnFailure.FALLBACK),
            "on_failure=fallback needs a fallback function",
        ),
    ],
)
def test_invalid_policies_are_rejected(policy: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        policy()


@pytest.mark.parametrize(
    ("validator", "inputs", "answer", "ok"),
    [
        (non_empty("answer"), {}, "  ", False),
        (non_empty("answer"), {}, "x", True),
        (grounded("answer", "context"), {"context": ["The shed holds a spade."]}, "a spade", True),
        (
            grounded("answer", "context"),
            {"context": ["The shed holds a spade."]},
            "a blue tractor",
            False,
        ),
        (grounded("answer", "context"), {"context": "plain text context"}, "plain context", True),
        (mentions("answer", "role"), {"role": "Reviewer"}, "you are the reviewer", True),
        (mentions("answer", "role"), {"role": "coder"}, "you are the reviewer", False),
        (differs_from("answer", "old"), {"old": "same"}, " same ", False),
        (differs_from("answer", "old"), {"old": "same"}, "new", True),
    ],
)
def test_builtin_validators(
    validator: Validator, inputs: dict[str, Any], answer: str, ok: bool
) -> None:
    assert validator.check(inputs, dspy.Prediction(answer=answer)) is ok
