"""Every behaviour of the assertion framework's old entry points, run against old and new.

Written against the framework as committed before B-1006 Task 3.1 (tests/data/assertions_baseline,
verbatim from 0a93571) and run, in the same process, against the deprecated shim
`assistant.assertions` that now forwards to `assistant.rewards` / `assistant.validation`
(dspy.BestOfN): each test takes `api`, one of the two. The shim's deprecation warnings are
tested in test_validation.py.
"""

from __future__ import annotations

import importlib
import logging
import subprocess
import threading
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType, SimpleNamespace
from typing import Any

import dspy
import pytest

from tests.assistant.baseline import BASELINE, BASELINE_COMMIT, FILES, baseline
from tests.conftest import ROOT

NAMES = (
    "AssertionFailedError",
    "Feedback",
    "OnFailure",
    "RetryPolicy",
    "Validator",
    "differs_from",
    "failed_validators",
    "grounded",
    "max_words",
    "mentions",
    "non_empty",
    "outputs_of",
    "run_with_validation",
)


@pytest.fixture(params=["baseline", "shim"])
def api(request: pytest.FixtureRequest) -> ModuleType | SimpleNamespace:
    """The old framework itself, or its names resolved through today's deprecated shim."""
    if request.param == "baseline":
        return baseline("assertions")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        shim = importlib.import_module("assistant.assertions")
        return SimpleNamespace(**{name: getattr(shim, name) for name in NAMES})


def test_baseline_is_verbatim() -> None:
    for name in FILES:
        shown = subprocess.run(
            ["git", "show", f"{BASELINE_COMMIT}:assistant/{name}.py"], cwd=ROOT, capture_output=True, text=True
        )
        if shown.returncode != 0:
            pytest.skip(f"commit {BASELINE_COMMIT[:7]} is not in this clone: {shown.stderr.strip()}")
        assert (BASELINE / f"{name}.py").read_text(encoding="utf-8") == shown.stdout, name


class ScriptedModule:
    """Returns scripted answers in turn and records the feedback each call received."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.feedback: list[Any] = []

    def __call__(self, feedback: Any) -> dspy.Prediction:
        self.feedback.append(feedback)
        return dspy.Prediction(answer=self.answers[len(self.feedback) - 1])


INPUTS: Mapping[str, Any] = {"question": "q"}


def short(api: Any) -> Any:
    """At most two words."""
    return api.max_words("answer", 2)


def names(api: Any) -> Any:
    """The answer must contain inputs["name"]."""
    return api.mentions("answer", "name")


def test_a_passing_first_attempt_is_returned_without_retry(api: Any) -> None:
    module = ScriptedModule("two words")
    result = api.run_with_validation(module, inputs=INPUTS, validators=[short(api)])
    assert (result.prediction.answer, result.passed, result.retries) == ("two words", True, 0)
    assert module.feedback == [None]


def test_a_retry_receives_past_outputs_and_the_failed_messages(api: Any) -> None:
    module = ScriptedModule("far too many words here", "ok now")
    result = api.run_with_validation(module, inputs=INPUTS, validators=[short(api), api.non_empty("answer")])
    assert result.prediction.answer == "ok now" and result.passed
    feedback = module.feedback[1]
    assert feedback is not None
    assert feedback.attempt == 1
    assert feedback.past("answer") == "far too many words here"
    assert feedback.past("missing") == ""
    assert dict(feedback.past_outputs) == {"answer": "far too many words here"}
    assert feedback.messages == ("The answer must have at most 2 words.",)
    assert feedback.text == "- The answer must have at most 2 words."
    assert [a.failed for a in result.attempts] == [("answer_max_2_words",), ()]
    assert [a.attempt for a in result.attempts] == [1, 2]


def test_feedback_lists_only_the_failed_validators_in_their_order(api: Any) -> None:
    module = ScriptedModule("a b c", "d e f", "x")
    inputs = {"name": "x"}
    api.run_with_validation(module, inputs=inputs, validators=[names(api), api.non_empty("answer"), short(api)])
    assert module.feedback[1] is not None and module.feedback[2] is not None
    assert module.feedback[1].messages == ("The answer must name the name.", "The answer must have at most 2 words.")
    assert module.feedback[2].attempt == 2 and module.feedback[2].past("answer") == "d e f"


def test_gives_up_after_max_retries_by_raising(api: Any) -> None:
    module = ScriptedModule("a b c", "d e f", "g h i", "never")
    with pytest.raises(api.AssertionFailedError) as raised:
        api.run_with_validation(
            module, inputs=INPUTS, validators=[short(api)], policy=api.RetryPolicy(max_retries=2), module="QA"
        )
    assert len(module.feedback) == 3
    assert str(raised.value) == (
        "QA: output failed answer_max_2_words after 3 attempt(s); raise max_retries or relax the validators"
    )
    assert raised.value.module == "QA" and isinstance(raised.value, RuntimeError)
    assert [a.outputs["answer"] for a in raised.value.attempts] == ["a b c", "d e f", "g h i"]


def test_the_default_policy_retries_twice_then_raises(api: Any) -> None:
    module = ScriptedModule("a b c", "d e f", "g h i")
    with pytest.raises(api.AssertionFailedError):
        api.run_with_validation(module, inputs=INPUTS, validators=[short(api)])
    assert len(module.feedback) == 3


def test_fallback_replaces_the_output_when_retries_run_out(api: Any) -> None:
    policy = api.RetryPolicy(
        max_retries=1,
        on_failure=api.OnFailure.FALLBACK,
        fallback=lambda inputs: dspy.Prediction(answer=f"unknown: {inputs['question']}"),
    )
    result = api.run_with_validation(
        ScriptedModule("a b c", "d e f"), inputs=INPUTS, validators=[short(api)], policy=policy
    )
    assert (result.prediction.answer, result.passed, result.fell_back) == ("unknown: q", False, True)
    assert result.retries == 1


def test_return_last_keeps_the_final_attempt(api: Any) -> None:
    policy = api.RetryPolicy(max_retries=1, on_failure=api.OnFailure.RETURN_LAST)
    result = api.run_with_validation(
        ScriptedModule("a b c", "d e f"), inputs=INPUTS, validators=[short(api)], policy=policy
    )
    assert (result.prediction.answer, result.passed, result.fell_back) == ("d e f", False, False)


def test_return_last_keeps_the_final_attempt_even_when_an_earlier_one_failed_less(api: Any) -> None:
    # Attempt 1 fails one validator, attempt 2 fails two: the last one is still returned.
    policy = api.RetryPolicy(max_retries=1, on_failure=api.OnFailure.RETURN_LAST)
    module = ScriptedModule("x y z", "a b c")
    result = api.run_with_validation(module, inputs={"name": "x"}, validators=[names(api), short(api)], policy=policy)
    assert result.prediction.answer == "a b c"
    assert [a.failed for a in result.attempts] == [
        ("answer_max_2_words",),
        ("answer_mentions_name", "answer_max_2_words"),
    ]


def test_soft_validators_retry_but_never_raise(api: Any) -> None:
    soft = api.max_words("answer", 2, hard=False)
    module = ScriptedModule("a b c", "d e f")
    result = api.run_with_validation(module, inputs=INPUTS, validators=[soft], policy=api.RetryPolicy(max_retries=1))
    assert (result.prediction.answer, result.passed, len(module.feedback)) == ("d e f", False, 2)


def test_soft_failures_never_fall_back(api: Any) -> None:
    soft = api.max_words("answer", 2, hard=False)
    policy = api.RetryPolicy(
        max_retries=1, on_failure=api.OnFailure.FALLBACK, fallback=lambda i: dspy.Prediction(answer="fb")
    )
    result = api.run_with_validation(ScriptedModule("a b c", "d e f"), inputs=INPUTS, validators=[soft], policy=policy)
    assert (result.prediction.answer, result.passed, result.fell_back) == ("d e f", False, False)


def test_a_hard_failure_among_soft_ones_decides(api: Any) -> None:
    soft = api.max_words("answer", 1, hard=False)
    with pytest.raises(api.AssertionFailedError, match="failed answer_max_1_words, answer_max_2_words after 2"):
        api.run_with_validation(
            ScriptedModule("a b c", "d e f"),
            inputs=INPUTS,
            validators=[soft, short(api)],
            policy=api.RetryPolicy(max_retries=1),
        )


def test_passed_means_soft_validators_passed_too(api: Any) -> None:
    soft = api.max_words("answer", 1, hard=False)
    module = ScriptedModule("a b", "a")
    result = api.run_with_validation(module, inputs=INPUTS, validators=[soft, short(api)])
    assert (result.prediction.answer, result.passed, result.retries) == ("a", True, 1)


def test_zero_retries_means_one_attempt(api: Any) -> None:
    module = ScriptedModule("a b c")
    with pytest.raises(api.AssertionFailedError):
        api.run_with_validation(module, inputs=INPUTS, validators=[short(api)], policy=api.RetryPolicy(max_retries=0))
    assert module.feedback == [None]


def test_no_validators_accept_the_first_attempt(api: Any) -> None:
    module = ScriptedModule("anything at all goes here")
    result = api.run_with_validation(module, inputs=INPUTS, validators=[])
    assert (result.passed, result.retries, module.feedback) == (True, 0, [None])


def test_backtracking_is_logged(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    api.run_with_validation(ScriptedModule("a b c", "ok"), inputs=INPUTS, validators=[short(api)], module="QA")
    assert "QA: attempt 1 failed answer_max_2_words; backtracking with feedback" in caplog.messages


@pytest.mark.parametrize(
    ("policy", "hard", "message"),
    [
        (
            {"on_failure": "FALLBACK", "fallback": lambda i: "fb"},
            True,
            "QA: giving up after 2 attempts; using the fallback",
        ),
        ({"on_failure": "RETURN_LAST"}, True, "QA: giving up after 2 attempts; returning the last output"),
        ({}, False, "QA: suggestions still unmet: answer_max_2_words"),
    ],
)
def test_giving_up_is_logged_as_a_warning(
    api: Any, caplog: pytest.LogCaptureFixture, policy: dict[str, Any], hard: bool, message: str
) -> None:
    caplog.set_level(logging.WARNING)
    if "on_failure" in policy:
        policy = {**policy, "on_failure": api.OnFailure[policy["on_failure"]]}
    api.run_with_validation(
        ScriptedModule("a b c", "d e f"),
        inputs=INPUTS,
        validators=[api.max_words("answer", 2, hard=hard)],
        policy=api.RetryPolicy(max_retries=1, **policy),
        module="QA",
    )
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING] == [
        ("WARNING", message)
    ]


def test_a_raising_check_counts_as_failed(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    broken = api.Validator("broken", lambda inputs, pred: 1 / 0 > 0, "never")
    assert api.failed_validators(INPUTS, dspy.Prediction(answer="x"), [broken]) == [broken]
    assert "validator broken raised" in caplog.text
    assert "ZeroDivisionError" in caplog.text  # the traceback is logged


def test_a_raising_check_makes_the_call_retry_and_give_up(api: Any) -> None:
    broken = api.Validator("broken", lambda inputs, pred: 1 / 0 > 0, "never")
    module = ScriptedModule("a", "b")
    with pytest.raises(api.AssertionFailedError, match="failed broken after 2 attempt"):
        api.run_with_validation(module, inputs=INPUTS, validators=[broken], policy=api.RetryPolicy(max_retries=1))
    assert module.feedback[1] is not None and module.feedback[1].messages == ("never",)


def test_an_exception_in_the_attempt_propagates_at_once(api: Any) -> None:
    calls: list[Any] = []

    def attempt(feedback: Any) -> dspy.Prediction:
        calls.append(feedback)
        raise ConnectionError("LM unreachable")

    with pytest.raises(ConnectionError, match="LM unreachable"):
        api.run_with_validation(attempt, inputs=INPUTS, validators=[short(api)])
    assert calls == [None]


def test_checks_receive_the_inputs_as_given(api: Any) -> None:
    seen: list[dict[str, Any]] = []
    spy = api.Validator("spy", lambda inputs, pred: bool(seen.append(dict(inputs))), "again")
    inputs = {"question": "q", "context": ["a", "b"]}
    api.run_with_validation(
        ScriptedModule("a", "b"),
        inputs=inputs,
        validators=[spy],
        policy=api.RetryPolicy(max_retries=1, on_failure=api.OnFailure.RETURN_LAST),
    )
    assert seen == [inputs, inputs]


def test_any_return_value_can_be_validated(api: Any) -> None:
    result = api.run_with_validation(
        lambda feedback: "plain text",
        inputs=INPUTS,
        validators=[api.Validator("str", lambda i, p: isinstance(p, str), "")],
    )
    assert (result.prediction, dict(result.attempts[0].outputs)) == ("plain text", {"value": "plain text"})


def test_outputs_of_reads_prediction_fields(api: Any) -> None:
    assert api.outputs_of(dspy.Prediction(answer="x", n=1)) == {"answer": "x", "n": 1}
    assert api.outputs_of(42) == {"value": 42}


def test_no_language_model_is_needed(api: Any) -> None:
    with dspy.context(lm=None):
        result = api.run_with_validation(ScriptedModule("a b c", "ok"), inputs=INPUTS, validators=[short(api)])
    assert (result.prediction.answer, result.retries) == ("ok", 1)


def test_concurrent_calls_keep_their_own_attempts(api: Any) -> None:
    barrier = threading.Barrier(4)

    def call(n: int) -> tuple[str, ...]:
        def attempt(feedback: Any) -> dspy.Prediction:
            barrier.wait(timeout=10)
            return dspy.Prediction(answer=f"t{n} " * (3 if feedback is None else 1))

        result = api.run_with_validation(attempt, inputs={"n": n}, validators=[short(api)])
        return tuple(a.outputs["answer"].strip() for a in result.attempts)

    with ThreadPoolExecutor(4) as pool:
        trails = list(pool.map(call, range(4)))
    assert trails == [(f"t{n} t{n} t{n}", f"t{n}") for n in range(4)]


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (lambda api: api.RetryPolicy(max_retries=-1), "max_retries must be >= 0, got -1"),
        (
            lambda api: api.RetryPolicy(on_failure=api.OnFailure.FALLBACK),
            "on_failure=fallback needs a fallback function",
        ),
    ],
)
def test_invalid_policies_are_rejected(api: Any, policy: Callable[[Any], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        policy(api)


def test_on_failure_values_are_their_names(api: Any) -> None:
    assert [m.value for m in api.OnFailure] == ["raise", "fallback", "return_last"]
    assert api.OnFailure("fallback") is api.OnFailure.FALLBACK


@pytest.mark.parametrize(
    ("make", "name", "message", "hard"),
    [
        (lambda api: api.non_empty("answer"), "answer_not_empty", "The answer must not be empty.", True),
        (lambda api: api.max_words("answer", 5), "answer_max_5_words", "The answer must have at most 5 words.", True),
        (
            lambda api: api.max_words("answer", 5, hard=False),
            "answer_max_5_words",
            "The answer must have at most 5 words.",
            False,
        ),
        (
            lambda api: api.grounded("answer", "context"),
            "answer_grounded_in_context",
            "Use only facts stated in the context; copy its wording.",
            True,
        ),
        (lambda api: api.mentions("answer", "role"), "answer_mentions_role", "The answer must name the role.", True),
        (
            lambda api: api.differs_from("answer", "old"),
            "answer_differs_from_old",
            "The answer must change the old, not repeat it.",
            True,
        ),
    ],
)
def test_builtin_validator_names_and_messages(
    api: Any, make: Callable[[Any], Any], name: str, message: str, hard: bool
) -> None:
    validator = make(api)
    assert (validator.name, validator.message, validator.hard) == (name, message, hard)


@pytest.mark.parametrize(
    ("make", "inputs", "answer", "ok"),
    [
        (lambda api: api.non_empty("answer"), {}, "  ", False),
        (lambda api: api.non_empty("answer"), {}, "x", True),
        (lambda api: api.non_empty("answer"), {}, None, False),
        (lambda api: api.max_words("answer", 2), {}, "one two", True),
        (lambda api: api.max_words("answer", 2), {}, "one two three", False),
        (lambda api: api.grounded("answer", "context"), {"context": ["The shed holds a spade."]}, "a spade", True),
        (
            lambda api: api.grounded("answer", "context"),
            {"context": ["The shed holds a spade."]},
            "a blue tractor",
            False,
        ),
        (lambda api: api.grounded("answer", "context"), {"context": "plain text context"}, "plain context", True),
        (lambda api: api.grounded("answer", "context"), {"context": ["anything"]}, "", True),
        (
            lambda api: api.grounded("answer", "context", min_overlap=0.4),
            {"context": ["spade shed"]},
            "spade rake tractor",
            False,
        ),
        (
            lambda api: api.grounded("answer", "context", min_overlap=0.3),
            {"context": ["spade shed"]},
            "spade rake tractor",
            True,
        ),
        (lambda api: api.mentions("answer", "role"), {"role": "Reviewer"}, "you are the reviewer", True),
        (lambda api: api.mentions("answer", "role"), {"role": "coder"}, "you are the reviewer", False),
        (lambda api: api.differs_from("answer", "old"), {"old": "same"}, " same ", False),
        (lambda api: api.differs_from("answer", "old"), {"old": "same"}, "new", True),
    ],
)
def test_builtin_validators(
    api: Any, make: Callable[[Any], Any], inputs: dict[str, Any], answer: str | None, ok: bool
) -> None:
    assert make(api).check(inputs, dspy.Prediction(answer=answer)) is ok


def test_a_missing_output_field_reads_as_empty(api: Any) -> None:
    assert api.non_empty("answer").check({}, dspy.Prediction(other="x")) is False
    assert api.max_words("answer", 0).check({}, dspy.Prediction(other="x")) is True
