"""Question answering over the documentation: retrieve, answer, validate, revise."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dspy

from assistant.assertions import (
    Feedback,
    OnFailure,
    RetryPolicy,
    Validator,
    grounded,
    max_words,
    non_empty,
    run_with_validation,
)
from assistant.extractive import NOT_FOUND
from assistant.retrieval import Retriever
from assistant.signatures import AnswerQuestion, ReviseAnswer

MAX_ANSWER_WORDS = 60


def _not_found(inputs: Mapping[str, Any]) -> dspy.Prediction:
    return dspy.Prediction(answer=NOT_FOUND)


QA_VALIDATORS: tuple[Validator, ...] = (
    non_empty("answer"),
    grounded("answer", "context"),
    max_words("answer", MAX_ANSWER_WORDS),
)
# One revision, then admit ignorance rather than return an ungrounded answer.
QA_POLICY = RetryPolicy(max_retries=1, on_failure=OnFailure.FALLBACK, fallback=_not_found)


class DocsQA(dspy.Module):
    """Answers a question from the `k` best documentation passages.

    Outputs `answer`, plus `context`, `sources`, `passed` and `retries` for evaluation.
    """

    def __init__(
        self,
        retriever: Retriever,
        k: int = 3,
        validators: Sequence[Validator] = QA_VALIDATORS,
        policy: RetryPolicy = QA_POLICY,
    ) -> None:
        super().__init__()
        self.retriever = retriever
        self.k = k
        self.validators = tuple(validators)
        self.policy = policy
        self.answer = dspy.Predict(AnswerQuestion)
        self.revise = dspy.Predict(ReviseAnswer)

    def forward(self, question: str, extra_context: Sequence[str] = ()) -> dspy.Prediction:
        """Answer `question`; `extra_context` (e.g. rehydrated memories) follows the passages."""
        hits = self.retriever.search(question, self.k)
        context = [hit.passage.as_context() for hit in hits] + list(extra_context)

        def attempt(feedback: Feedback | None) -> dspy.Prediction:
            if feedback is None:
                return self.answer(context=context, question=question)
            return self.revise(
                context=context,
                question=question,
                previous_answer=feedback.past("answer"),
                feedback=feedback.text,
            )

        result = run_with_validation(
            attempt,
            inputs={"context": context, "question": question},
            validators=self.validators,
            policy=self.policy,
            module=type(self).__name__,
        )
        return dspy.Prediction(
            answer=result.prediction.answer,
            context=context,
            sources=list(dict.fromkeys(hit.passage.source for hit in hits)),
            passed=result.passed,
            retries=result.retries,
        )

    def with_instructions(self, instructions: str) -> DocsQA:
        """A copy (demos included) whose predictors follow `instructions`, e.g. a role prompt."""
        program = self.deepcopy()
        for predictor in (program.answer, program.revise):
            base = predictor.signature.instructions
            predictor.signature = predictor.signature.with_instructions(f"{instructions}\n\n{base}")
        return program
