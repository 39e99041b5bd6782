"""The newest review of an environment answers for the job that waited there last (gitops.github.reviews)."""
from __future__ import annotations

from gitops.github.reviews import Review, newest


def approval(state: str, login: str, *environments: str, comment: str = "") -> dict:
    """One entry of GET .../actions/runs/{run_id}/approvals, as GitHub lists them (oldest first)."""
    return {"state": state, "comment": comment, "user": {"login": login},
            "environments": [{"name": name} for name in environments]}


def test_a_rejection_after_an_approval_is_the_answer_not_the_approval_before_it():
    approvals = [approval("approved", "ada", "production"), approval("approved", "carol", "b-1006-checkpoint-1-2"),
                 approval("rejected", "bob", "production", comment="not on a Friday")]
    assert newest(approvals, "production") == Review("rejected", "bob", "not on a Friday")
    assert newest(approvals, "b-1006-checkpoint-1-2") == Review("approved", "carol", "")
    assert newest(approvals, "b-1006-checkpoint-2-1") is None  # nobody reviewed it


def test_a_later_approval_of_the_same_environment_answers_for_the_job_after_a_rejected_one():
    approvals = [approval("rejected", "bob", "production"), approval("approved", "ada", "production")]
    assert newest(approvals, "production") == Review("approved", "ada", "")
