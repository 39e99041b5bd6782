"""DocsQA: retrieval, answering, and validation (dspy.BestOfN with feedback) at its call site."""

from __future__ import annotations

from pathlib import Path

import dspy

from assistant.extractive import NOT_FOUND
from assistant.offline_lm import ExtractiveLM
from assistant.qa import DocsQA
from assistant.retrieval import DocRetriever
from assistant.rewards import Validator, max_words
from assistant.validation import OnFailure, RetryPolicy


def test_answers_from_the_right_document(tiny_repo: Path, lm_context: ExtractiveLM) -> None:
    prediction = DocsQA(DocRetriever.from_repo(tiny_repo))(question="What does the shed hold?")
    assert prediction.answer == "The shed holds a spade, a rake and a wheelbarrow."
    assert prediction.sources[0] == "docs/tools.md"
    assert prediction.passed and prediction.retries == 0
    assert len(prediction.context) <= 3


def test_answers_about_this_repository(
    repo_retriever: DocRetriever, lm_context: ExtractiveLM
) -> None:
    prediction = DocsQA(repo_retriever)(
        question="Which class does Task 4.1 add to memory_rehydrator.py?"
    )
    assert "AsyncMemoryRehydrator" in prediction.answer
    # Both say it: the task list's Task 4.1 and docs/assistant.md ("Task 4.1 adds AsyncMemoryRehydrator
    # to memory_rehydrator.py"); which ranks first moves with their wording.
    assert prediction.sources[0] in ("migration/B-1006.md", "docs/assistant.md")


def test_a_failed_validation_is_revised_with_feedback(
    tiny_repo: Path, lm_context: ExtractiveLM
) -> None:
    program = DocsQA(DocRetriever.from_repo(tiny_repo), validators=[max_words("answer", 3)])
    prediction = program(question="What does the shed hold?")
    assert prediction.retries == 1 and prediction.passed
    assert len(prediction.answer.split()) <= 3
    revise_prompt = lm_context.history[-1]["messages"][-1]["content"]
    assert (
        "[[ ## previous_answer ## ]]\nThe shed holds a spade, a rake and a wheelbarrow."
        in revise_prompt
    )
    assert "The answer must have at most 3 words." in revise_prompt


def test_an_unsatisfiable_validator_falls_back(tiny_repo: Path, lm_context: ExtractiveLM) -> None:
    never = Validator("never", lambda inputs, pred: False, "Impossible.")
    policy = RetryPolicy(
        max_retries=1,
        on_failure=OnFailure.FALLBACK,
        fallback=lambda i: dspy.Prediction(answer=NOT_FOUND),
    )
    prediction = DocsQA(DocRetriever.from_repo(tiny_repo), validators=[never], policy=policy)(
        question="shed"
    )
    assert (prediction.answer, prediction.passed) == (NOT_FOUND, False)
    assert len(lm_context.history) == 2  # the answer, then one revision


def test_extra_context_follows_the_passages(tiny_repo: Path, lm_context: ExtractiveLM) -> None:
    prediction = DocsQA(DocRetriever.from_repo(tiny_repo))(
        question="Who borrowed the wheelbarrow?",
        extra_context=["Memory\nAda borrowed the wheelbarrow on Monday."],
    )
    assert prediction.context[-1].startswith("Memory")
    assert prediction.answer == "Ada borrowed the wheelbarrow on Monday."


def test_with_instructions_copies_and_keeps_demos(tiny_repo: Path) -> None:
    program = DocsQA(DocRetriever.from_repo(tiny_repo))
    program.answer.demos = [dspy.Example(question="q", answer="a").with_inputs("question")]
    instructed = program.with_instructions("You are the reviewer.")
    assert instructed.answer.signature.instructions.startswith(
        "You are the reviewer.\n\nAnswer the question"
    )
    assert instructed.revise.signature.instructions.startswith("You are the reviewer.")
    assert len(instructed.answer.demos) == 1
    assert not program.answer.signature.instructions.startswith(
        "You are"
    )  # the original is untouched


def test_named_predictors_are_answer_and_revise(tiny_repo: Path) -> None:
    names = [name for name, _ in DocsQA(DocRetriever.from_repo(tiny_repo)).named_predictors()]
    assert names == ["answer", "revise"]


def test_a_valid_answer_costs_one_lm_call(tiny_repo: Path, lm_context: ExtractiveLM) -> None:
    prediction = DocsQA(DocRetriever.from_repo(tiny_repo))(question="What does the shed hold?")
    assert (prediction.passed, prediction.retries, len(lm_context.history)) == (True, 0, 1)


def test_default_validation_rejects_an_ungrounded_answer_and_admits_ignorance(tiny_repo: Path) -> None:
    lm = dspy.utils.DummyLM([{"answer": "A blue tractor."}, {"answer": "A red tractor."}])
    with dspy.context(lm=lm):
        prediction = DocsQA(DocRetriever.from_repo(tiny_repo))(question="What does the shed hold?")
    assert (prediction.answer, prediction.passed, prediction.retries) == (NOT_FOUND, False, 1)
    revise_prompt = lm.history[-1]["messages"][-1]["content"]
    assert "[[ ## previous_answer ## ]]\nA blue tractor." in revise_prompt
    assert "- Use only facts stated in the context; copy its wording." in revise_prompt
