"""The role refinement system improves low-rated role prompts from feedback."""

from __future__ import annotations

import dspy
import pytest

from assistant.extractive import FEEDBACK_HEADING
from assistant.model_switcher import ANY_ROLE, ModelSwitcher, TaskType
from assistant.offline_lm import OFFLINE_LABEL, ExtractiveLM
from assistant.role_refinement import RoleFeedback, RoleRefiner, refine_roles, summarize
from assistant.roles import RoleRegistry
from assistant.validation import OnFailure, RetryPolicy

FEEDBACK = [
    RoleFeedback("reviewer", 2, "Quote the sentence that supports each point."),
    RoleFeedback("reviewer", 3, "Keep reviews under five bullet points."),
    RoleFeedback("coder", 5, "Great."),
    RoleFeedback("planner", 1),
]


def test_rating_must_be_one_to_five() -> None:
    with pytest.raises(ValueError, match="rating must be 1-5, got 6 for role 'coder'"):
        RoleFeedback("coder", 6)


def test_summarize_averages_ratings_and_keeps_comments() -> None:
    assert summarize(FEEDBACK) == {
        "reviewer": (
            2.5,
            [
                "Quote the sentence that supports each point.",
                "Keep reviews under five bullet points.",
            ],
        ),
        "coder": (5.0, ["Great."]),
        "planner": (1.0, []),
    }


def test_low_rated_roles_get_a_new_version_addressing_the_feedback() -> None:
    refine_lm, default_lm = ExtractiveLM(), ExtractiveLM()
    switcher = ModelSwitcher(default_lm, {(TaskType.ROLE_REFINEMENT, ANY_ROLE): refine_lm})
    registry = RoleRegistry.defaults()
    report = refine_roles(registry, FEEDBACK, switcher=switcher)

    (change,) = report.changes
    assert (change.role, change.mean_rating, change.changed, change.lm) == (
        "reviewer",
        2.5,
        True,
        OFFLINE_LABEL,
    )
    new = report.registry.get("reviewer")
    assert new.version == 2
    assert new.prompt.startswith(registry.get("reviewer").prompt)
    assert FEEDBACK_HEADING in new.prompt
    assert "- Quote the sentence that supports each point." in new.prompt
    assert "- Keep reviews under five bullet points." in new.prompt
    # Well rated (coder) and comment-less (planner) roles are left alone.
    assert report.kept == ("coder", "planner")
    assert report.registry.get("coder") == registry.get("coder")
    # The refinement ran on the role-refinement LM, not the default one.
    assert len(refine_lm.history) == 1 and not default_lm.history


def test_refining_twice_does_not_repeat_feedback() -> None:
    switcher = ModelSwitcher(ExtractiveLM())
    once = refine_roles(RoleRegistry.defaults(), FEEDBACK, switcher=switcher).registry
    twice = refine_roles(once, FEEDBACK, switcher=switcher).registry.get("reviewer").prompt
    assert twice.count("- Quote the sentence that supports each point.") == 1
    assert twice.count(FEEDBACK_HEADING) == 1


def test_a_rewrite_failing_validation_keeps_the_current_prompt(lm_context: ExtractiveLM) -> None:
    keep = RetryPolicy(
        max_retries=0,
        on_failure=OnFailure.FALLBACK,
        fallback=lambda inputs: dspy.Prediction(improved_prompt=inputs["current_prompt"]),
    )
    refiner = RoleRefiner(keep)
    prediction = refiner(role="coder", current_prompt="You are the coder.", feedback="")
    assert (prediction.improved_prompt, prediction.accepted) == ("You are the coder.", False)


def test_the_retry_is_told_why_the_rewrite_was_rejected(lm_context: ExtractiveLM) -> None:
    prediction = RoleRefiner()(role="coder", current_prompt="You are the coder.", feedback="")
    # No user feedback: the first rewrite repeats the prompt; the retry gets the
    # validator's message as feedback, and the offline LM follows it.
    assert prediction.accepted
    assert prediction.improved_prompt.endswith(
        "- The improved_prompt must change the current_prompt, not repeat it."
    )


def test_a_rejected_rewrite_costs_one_more_lm_call(lm_context: ExtractiveLM) -> None:
    RoleRefiner()(role="coder", current_prompt="You are the coder.", feedback="")
    assert len(lm_context.history) == 2
    retry_prompt = lm_context.history[-1]["messages"][-1]["content"]
    assert "- The improved_prompt must change the current_prompt, not repeat it." in retry_prompt


def test_a_rewrite_that_never_validates_keeps_the_current_prompt() -> None:
    lm = dspy.utils.DummyLM([{"improved_prompt": "Be terse."}, {"improved_prompt": "Be brief."}])
    with dspy.context(lm=lm):
        prediction = RoleRefiner()(role="coder", current_prompt="You are the coder.", feedback="Shorter.")
    assert (prediction.improved_prompt, prediction.accepted, len(lm.history)) == ("You are the coder.", False, 2)
