"""DSPy signatures of the assistant: the schema that Task 2.2 checks works identically."""
from __future__ import annotations

import dspy


class AnswerQuestion(dspy.Signature):
    """Answer the question about this repository using only the given documentation passages."""

    context: list[str] = dspy.InputField(desc="documentation passages, most relevant first")
    question: str = dspy.InputField()
    answer: str = dspy.OutputField(desc="a short answer copied or condensed from the passages")


class ReviseAnswer(dspy.Signature):
    """Rewrite a rejected answer so that it satisfies the reviewer's feedback."""

    context: list[str] = dspy.InputField(desc="documentation passages, most relevant first")
    question: str = dspy.InputField()
    previous_answer: str = dspy.InputField(desc="the answer that was rejected")
    feedback: str = dspy.InputField(desc="why it was rejected, one reason per line")
    answer: str = dspy.OutputField(desc="a short answer copied or condensed from the passages")


class RefineRolePrompt(dspy.Signature):
    """Improve the system prompt of an assistant role so that it addresses the users' feedback."""

    role: str = dspy.InputField(desc="the role's name, e.g. reviewer")
    current_prompt: str = dspy.InputField()
    feedback: str = dspy.InputField(desc="what users said about the role's answers, one per line")
    improved_prompt: str = dspy.OutputField(desc="the full new prompt; it names the role")
