"""The offline LM answers through DSPy's ChatAdapter, deterministically, in 2.6 and 3.0."""

from __future__ import annotations

import copy
import json
import threading
from typing import Literal

import dspy
import pytest

from assistant.offline_lm import OFFLINE_LABEL, ExtractiveLM, parse_fields, read_prompt
from assistant.signatures import AnswerQuestion

CONTEXT = [
    "Watering\nWater the tomatoes every morning. Basil needs less water.",
    "Tools\nThe shed holds a spade, a rake and a wheelbarrow.",
]


def test_predict_answers_with_the_best_context_sentence(lm_context: ExtractiveLM) -> None:
    prediction = dspy.Predict(AnswerQuestion)(context=CONTEXT, question="What does the shed hold?")
    assert prediction.answer == "The shed holds a spade, a rake and a wheelbarrow."
    assert len(lm_context.history) == 1  # DummyLM's own history bookkeeping still runs


def test_answers_are_deterministic(lm_context: ExtractiveLM) -> None:
    predict = dspy.Predict(AnswerQuestion)
    answers = {
        predict(context=CONTEXT, question="When are tomatoes watered?").answer for _ in range(3)
    }
    assert answers == {"Water the tomatoes every morning."}


def test_chain_of_thought_gets_reasoning_too(lm_context: ExtractiveLM) -> None:
    prediction = dspy.ChainOfThought(AnswerQuestion)(
        context=CONTEXT, question="What does the shed hold?"
    )
    assert prediction.reasoning.endswith("The shed holds a spade, a rake and a wheelbarrow.")
    assert prediction.answer == "The shed holds a spade, a rake and a wheelbarrow."


def test_demos_in_the_prompt_shorten_the_answer(lm_context: ExtractiveLM) -> None:
    predict = dspy.Predict(AnswerQuestion)
    predict.demos = [
        dspy.Example(question="q1", answer="two words").with_inputs("question"),
        dspy.Example(context=["c"], question="q2", answer="also two").with_inputs(
            "context", "question"
        ),
    ]
    assert (
        predict(context=CONTEXT, question="When are tomatoes watered?").answer == "every morning."
    )


class Typed(dspy.Signature):
    """Fill typed fields."""

    module_names: list[str] = dspy.InputField()
    advice: dict[str, str] = dspy.OutputField()
    score: float = dspy.OutputField()
    ok: bool = dspy.OutputField()
    choice: Literal["yes", "no"] = dspy.OutputField()


def test_typed_outputs_parse(lm_context: ExtractiveLM) -> None:
    prediction = dspy.Predict(Typed)(module_names=["answer", "revise"])
    assert set(prediction.advice) == {"answer", "revise"}
    assert (prediction.score, prediction.ok, prediction.choice) == (0.0, False, "yes")


def test_prompt_fields_are_rewritten_from_feedback(lm_context: ExtractiveLM) -> None:
    predict = dspy.Predict("current_prompt, feedback -> new_prompt")
    prediction = predict(current_prompt="You are the coder.", feedback="Name the file.")
    assert prediction.new_prompt.startswith("You are the coder.")
    assert prediction.new_prompt.endswith("- Name the file.")


def test_refine_and_best_of_n_run_offline(lm_context: ExtractiveLM) -> None:
    # Task 3.1 replaces the assertion framework with these; they must run on this LM.
    def short(args: dict, pred: dspy.Prediction) -> float:
        return float(len(pred.answer.split()) <= 3)

    refine = dspy.Refine(module=dspy.Predict(AnswerQuestion), N=2, reward_fn=short, threshold=1.0)
    best = dspy.BestOfN(module=dspy.Predict(AnswerQuestion), N=2, reward_fn=short, threshold=1.0)
    for module in (refine, best):
        prediction = module(context=CONTEXT, question="When are tomatoes watered?")
        assert prediction.answer == "Water the tomatoes every morning."


def test_one_lm_serves_many_threads(offline_lm: ExtractiveLM) -> None:
    questions = {
        "What does the shed hold?": "The shed holds",
        "When are tomatoes watered?": "Water the",
    }
    results: dict[str, str] = {}
    barrier = threading.Barrier(4)

    def ask(question: str) -> None:
        barrier.wait()
        with dspy.context(lm=offline_lm):
            for _ in range(5):
                answer = dspy.Predict(AnswerQuestion)(context=CONTEXT, question=question).answer
                assert answer.startswith(questions[question])
        results[question] = answer

    threads = [threading.Thread(target=ask, args=(q,)) for q in list(questions) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(results) == set(questions)
    assert len(offline_lm.history) == 20


def test_the_lm_deep_copies(offline_lm: ExtractiveLM) -> None:
    clone = copy.deepcopy(offline_lm)
    with dspy.context(lm=clone):
        assert dspy.Predict(AnswerQuestion)(context=CONTEXT, question="shed").answer.startswith(
            "The shed"
        )
    assert clone.label == OFFLINE_LABEL


def test_read_prompt_understands_both_demo_formats() -> None:
    messages = [
        {
            "role": "system",
            "content": "Your output fields are:\n1. `answer` (str): x\nAll interactions ...",
        },
        {"role": "user", "content": "[[ ## question ## ]]\nq1"},
        {
            "role": "assistant",
            "content": "[[ ## answer ## ]]\na1\n\n[[ ## completed ## ]]\n",
        },  # 3.0 style
        {"role": "user", "content": "[[ ## question ## ]]\nq2"},
        {"role": "assistant", "content": "[[ ## answer ## ]]\na2"},  # 2.6 style
        {
            "role": "user",
            "content": "[[ ## question ## ]]\nq3\n\nRespond with the corresponding output fields",
        },
    ]
    view = read_prompt(messages)
    assert view.inputs == {"question": "q3"}
    assert view.outputs == [("answer", "str")]
    assert view.demos == [{"question": "q1", "answer": "a1"}, {"question": "q2", "answer": "a2"}]


def test_parse_fields_splits_on_headers() -> None:
    assert parse_fields('[[ ## a ## ]]\n1\n\n[[ ## b ## ]]\n["x"]') == {
        "a": "1",
        "b": json.dumps(["x"]),
    }


def test_a_bare_prompt_gets_an_answer(offline_lm: ExtractiveLM) -> None:
    (text,) = offline_lm(prompt="Water the tomatoes every morning.")
    assert "[[ ## answer ## ]]" in text


@pytest.mark.parametrize("n", [1, 3])
def test_n_completions(offline_lm: ExtractiveLM, n: int) -> None:
    assert (
        len(offline_lm(messages=[{"role": "user", "content": "[[ ## question ## ]]\nq"}], n=n)) == n
    )
