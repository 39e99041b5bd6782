"""The native replacement: validators as dspy.BestOfN / dspy.Refine rewards, and the deprecated shim."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils.callback import BaseCallback

from assistant import rewards, validation
from assistant.offline_lm import ExtractiveLM
from assistant.qa import QA_VALIDATORS, DocsQA
from assistant.retrieval import DocRetriever
from assistant.rewards import Validator, failed_validators, max_words, non_empty, reward, score
from assistant.signatures import AnswerQuestion
from assistant.validation import OnFailure, RetryPolicy, run_validated

CONTEXT = ["Tools\nThe shed holds a spade, a rake and a wheelbarrow."]
OLD_NAMES = (
    "Check",
    "Validator",
    "failed_validators",
    "non_empty",
    "max_words",
    "grounded",
    "mentions",
    "differs_from",
    "OnFailure",
    "RetryPolicy",
    "Feedback",
    "AttemptRecord",
    "ValidatedResult",
    "AssertionFailedError",
    "outputs_of",
)


class Calls(BaseCallback):
    """Records the class of every module and the number of LM calls that DSPy's callbacks report."""

    def __init__(self) -> None:
        self.modules: list[str] = []
        self.lm_calls = 0

    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        self.modules.append(type(instance).__name__)

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        self.lm_calls += 1


@pytest.fixture
def calls(lm_context: ExtractiveLM) -> Iterator[Calls]:
    recorder = Calls()
    with dspy.context(callbacks=[recorder]):
        yield recorder


@pytest.mark.parametrize("name", OLD_NAMES)
def test_every_old_name_warns_and_resolves_to_its_new_home(name: str) -> None:
    shim = importlib.import_module("assistant.assertions")
    new_home = rewards if hasattr(rewards, name) else validation
    with pytest.warns(
        DeprecationWarning,
        match=rf"assistant\.assertions\.{name} is deprecated \(B-1006 Task 3\.1\); "
        rf"use {new_home.__name__}\.{name}$",
    ):
        assert getattr(shim, name) is getattr(new_home, name)


def test_run_with_validation_is_run_validated_and_the_warning_points_at_the_importer() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from assistant.assertions import run_with_validation
    assert run_with_validation is run_validated
    assert [(w.category, Path(w.filename).name) for w in caught] == [(DeprecationWarning, "test_validation.py")]
    assert "use assistant.validation.run_validated" in str(caught[0].message)


def test_the_shim_knows_no_new_names() -> None:
    shim = importlib.import_module("assistant.assertions")
    with pytest.raises(AttributeError, match="module 'assistant.assertions' has no attribute 'run_validated'"):
        shim.run_validated  # noqa: B018
    assert set(OLD_NAMES) | {"run_with_validation"} <= set(dir(shim))


def test_the_new_code_path_raises_no_deprecation_warning(tiny_repo: Path, lm_context: ExtractiveLM) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert DocsQA(DocRetriever.from_repo(tiny_repo), validators=[max_words("answer", 3)])(question="shed").passed


@pytest.mark.parametrize(
    ("answer", "expected"),
    [("The shed holds a spade.", 1.0), ("A blue tractor.", 2 / 3), ("", 2 / 3), (" ".join(["spade"] * 61), 2 / 3)],
)
def test_the_qa_reward_is_the_share_of_validators_passed(answer: str, expected: float) -> None:
    value = reward(QA_VALIDATORS)({"context": CONTEXT, "question": "q"}, dspy.Prediction(answer=answer))
    assert value == pytest.approx(expected)


def test_score_without_validators_is_full_marks() -> None:
    assert (score([], []), score([non_empty("a")], [non_empty("a"), non_empty("b")])) == (1.0, 0.5)


def test_a_raising_check_scores_as_failed() -> None:
    broken = Validator("broken", lambda inputs, pred: pred.missing.attribute, "never")
    assert failed_validators({}, dspy.Prediction(answer="x"), [broken]) == [broken]
    assert reward([broken, non_empty("answer")])({}, dspy.Prediction(answer="x")) == 0.5


def test_the_reward_drives_dspy_best_of_n_directly(calls: Calls) -> None:
    program = dspy.BestOfN(dspy.Predict(AnswerQuestion), N=3, reward_fn=reward(QA_VALIDATORS), threshold=1.0)
    prediction = program(context=CONTEXT, question="What does the shed hold?")
    assert prediction.answer == "The shed holds a spade, a rake and a wheelbarrow."
    assert calls.lm_calls == 1  # the first attempt reached the threshold


def test_the_reward_drives_dspy_refine_which_asks_the_lm_for_advice(calls: Calls) -> None:
    # Three words are impossible for this offline LM: Refine tries twice, writing advice in between.
    program = dspy.Refine(dspy.Predict(AnswerQuestion), N=2, reward_fn=reward([max_words("answer", 3)]), threshold=1.0)
    prediction = program(context=CONTEXT, question="What does the shed hold?")
    assert prediction.answer == "The shed holds a spade, a rake and a wheelbarrow."  # the best (and only) reward
    assert calls.lm_calls == 3 and calls.modules.count("Predict") == 3  # attempt, OfferFeedback, attempt


def test_validated_calls_run_on_best_of_n(tiny_repo: Path, calls: Calls) -> None:
    DocsQA(DocRetriever.from_repo(tiny_repo), validators=[max_words("answer", 3)])(question="What does the shed hold?")
    # Rejected attempts are not module outputs: monitors see DocsQA, BestOfN and the predictors.
    assert calls.modules == ["DocsQA", "BestOfN", "Predict", "Predict"]
    assert calls.lm_calls == 2


def test_only_the_accepted_attempt_reaches_the_trace(tiny_repo: Path, lm_context: ExtractiveLM) -> None:
    # Changed on purpose: the old loop left every attempt in dspy.settings.trace, so an optimizer
    # tracing DocsQA could bootstrap the rejected answer as a demo. BestOfN keeps the best one.
    program = DocsQA(DocRetriever.from_repo(tiny_repo), validators=[max_words("answer", 3)])
    with dspy.context(trace=[]):
        program(question="What does the shed hold?")
        traced = [predictor for predictor, _, _ in dspy.settings.trace]
    assert traced == [program.revise]


def test_the_attempts_use_the_callers_lm_untouched(tiny_repo: Path, lm_context: ExtractiveLM) -> None:
    # BestOfN copies the module's LM per attempt (FACTS.md); here the attempts call the caller's LM,
    # so its history and temperature are what the old framework used.
    result = run_validated(
        lambda feedback: dspy.Predict("question -> answer")(question="q"),
        inputs={},
        validators=[max_words("answer", 0)],
        policy=RetryPolicy(max_retries=1, on_failure=OnFailure.RETURN_LAST),
    )
    assert (result.retries, len(lm_context.history)) == (1, 2)
    assert {entry["kwargs"].get("temperature") for entry in lm_context.history} == {0.0}
