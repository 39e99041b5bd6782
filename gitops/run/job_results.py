"""Why a task job's hand-over is missing, told by the job's result as its recording job sees it.

The recording job gets `needs.task-<id>.result` through the environment (never pasted into its
script): success, failure, cancelled or skipped
(https://docs.github.com/en/actions/reference/workflows-and-actions/contexts#needs-context).
"""
from __future__ import annotations

SUCCESS, FAILURE, CANCELLED, SKIPPED = "success", "failure", "cancelled", "skipped"

_WHY = {
    CANCELLED: "the task job was cancelled before it handed one over",
    SKIPPED: "the task job was skipped (its production review was rejected or its needs failed)",
    FAILURE: "the task job failed before it handed one over (a step broke or its runner was lost), or both of "
             "its uploads failed",
    # Its last step is the upload's second try, which fails the job when it fails: so it uploaded.
    SUCCESS: "the task job handed it over, but both downloads failed or the artifact expired (it is kept one day)",
}
# The job's own words when its result is not known (a job rendered before the result was passed).
UNKNOWN = ("the task job ended before it handed one over (cancelled or timed out, or its runner was lost), its "
           "upload failed, or the artifact expired")


def why_missing(result: str | None) -> str:
    """Why no hand-over arrived from a task job whose result is `result` (None or "": not known)."""
    return _WHY.get(result or "", UNKNOWN)


def may_be_rejected(result: str | None) -> bool:
    """Whether a job with this result may be one whose deployment review was rejected: GitHub fails
    a rejected job without starting it ("If a job is rejected, the workflow will fail":
    https://docs.github.com/en/actions/how-tos/deploy/configure-and-manage-deployments/review-deployments)."""
    return (result or None) in (FAILURE, SKIPPED, None)
