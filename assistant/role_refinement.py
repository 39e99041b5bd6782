"""The role refinement system: rewrite a role's prompt from users' feedback on its answers."""
from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dspy

from assistant.lm import lm_label
from assistant.model_switcher import ModelSwitcher, TaskType
from assistant.rewards import Validator, differs_from, max_words, mentions
from assistant.roles import RolePrompt, RoleRegistry
from assistant.signatures import RefineRolePrompt
from assistant.validation import Feedback, OnFailure, RetryPolicy, run_validated

# Roles rated below this (mean of 1-5 ratings) get their prompt rewritten.
REFINE_BELOW = 4.0
MAX_PROMPT_WORDS = 250


@dataclass(frozen=True)
class RoleFeedback:
    """One user's verdict on an answer given in a role."""

    role: str
    rating: int  # 1 (useless) to 5 (exactly right)
    comment: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.rating <= 5:
            raise ValueError(f"rating must be 1-5, got {self.rating} for role {self.role!r}")


@dataclass(frozen=True)
class RoleChange:
    """A role whose prompt was considered, and what became of it."""

    role: str
    before: RolePrompt
    after: RolePrompt
    mean_rating: float
    lm: str

    @property
    def changed(self) -> bool:
        """Whether the prompt text changed."""
        return self.after.prompt != self.before.prompt


@dataclass(frozen=True)
class RefinementReport:
    """The registry after refinement and one entry per role that was rated low."""

    registry: RoleRegistry
    changes: tuple[RoleChange, ...]
    kept: tuple[str, ...]  # roles rated at or above the threshold, left alone


def _keep_current(inputs: Mapping[str, Any]) -> dspy.Prediction:
    return dspy.Prediction(improved_prompt=inputs["current_prompt"])


ROLE_VALIDATORS: tuple[Validator, ...] = (
    mentions("improved_prompt", "role"),
    differs_from("improved_prompt", "current_prompt"),
    max_words("improved_prompt", MAX_PROMPT_WORDS),
)
# A rewrite that still fails is dropped: the current prompt is known to work, if poorly.
ROLE_POLICY = RetryPolicy(max_retries=1, on_failure=OnFailure.FALLBACK, fallback=_keep_current)


class RoleRefiner(dspy.Module):
    """Rewrites one role prompt from feedback, validated and retried on dspy.BestOfN (assistant.validation)."""

    def __init__(self, policy: RetryPolicy = ROLE_POLICY) -> None:
        super().__init__()
        self.policy = policy
        self.refine = dspy.Predict(RefineRolePrompt)

    def forward(self, role: str, current_prompt: str, feedback: str) -> dspy.Prediction:
        """The improved prompt (the current one when no valid rewrite was produced)."""

        def attempt(retry: Feedback | None) -> dspy.Prediction:
            notes = feedback if retry is None else f"{feedback}\n{retry.text}"
            return self.refine(role=role, current_prompt=current_prompt, feedback=notes)

        result = run_validated(
            attempt,
            inputs={"role": role, "current_prompt": current_prompt, "feedback": feedback},
            validators=ROLE_VALIDATORS,
            policy=self.policy,
            module=type(self).__name__,
        )
        return dspy.Prediction(
            improved_prompt=result.prediction.improved_prompt, accepted=not result.fell_back
        )


def summarize(feedback: Iterable[RoleFeedback]) -> dict[str, tuple[float, list[str]]]:
    """Per role: the mean rating and the non-empty comments, in the order given."""
    ratings: dict[str, list[int]] = defaultdict(list)
    comments: dict[str, list[str]] = defaultdict(list)
    for item in feedback:
        ratings[item.role].append(item.rating)
        if item.comment.strip():
            comments[item.role].append(item.comment.strip())
    return {role: (statistics.fmean(r), comments[role]) for role, r in ratings.items()}


def refine_roles(
    registry: RoleRegistry,
    feedback: Iterable[RoleFeedback],
    *,
    switcher: ModelSwitcher,
    refiner: RoleRefiner | None = None,
    threshold: float = REFINE_BELOW,
) -> RefinementReport:
    """Rewrite the prompt of every role whose mean rating is below `threshold`."""
    refiner = refiner or RoleRefiner()
    changes: list[RoleChange] = []
    kept: list[str] = []
    for role, (mean, comments) in summarize(feedback).items():
        before = registry.get(role)
        if mean >= threshold or not comments:
            kept.append(role)
            continue
        with switcher.use(TaskType.ROLE_REFINEMENT, role) as lm:
            prediction = refiner(role=role, current_prompt=before.prompt, feedback="\n".join(comments))
        after = before.revised(prediction.improved_prompt)
        registry = registry.with_prompt(after)
        changes.append(RoleChange(role, before, after, mean, lm_label(lm)))
    return RefinementReport(registry, tuple(changes), tuple(kept))
