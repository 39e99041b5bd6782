"""The `plan` job: first in every run of the main workflow. It refuses gates that would stop
nobody, records tasks an ended run left running, applies a dispatch or a `/gitops` comment, records
a merged phase PR, plans, and claims the tasks its run starts (gitops.run.claims)."""
from __future__ import annotations

from typing import Any

from gitops.github.job_steps import (
    GATES_ENV,
    SHORT_JOB_MINUTES,
    TOKEN_ENV,
    gitops_command,
    job_permissions,
    setup_steps,
)

# A `/gitops` comment's command arrives as the outputs of the plan job's `comment` step.
DISPATCH_ENV = {
    "APPROVE_GATE": "${{ inputs.approve }}",
    "RESUME_REASON": "${{ inputs.resume || steps.comment.outputs.resume }}",
    "RETRY_TASK": "${{ inputs.retry || steps.comment.outputs.retry }}",
}
COMMAND_PREFIX = "/gitops"


def dispatch_inputs() -> dict[str, Any]:
    def text(description: str) -> dict[str, Any]:
        return {"description": description, "required": False, "type": "string", "default": ""}

    return {
        "retry": text("HotFix done: the task id to retry (e.g. 2.1)"),
        "resume": text("Clear a halt: why it is safe to go on"),
        # Only what GitHub can prove: a merged phase PR. A checkpoint's approval is read in its own
        # gate job (gitops.github.commands.approver_from_forge); the next run's gate job asks again.
        "approve": text("Record a phase gate whose PR is merged (e.g. phase-2) if its run did not"),
    }


def plan_job(tasklist_path: str) -> dict[str, Any]:
    gitops = gitops_command(tasklist_path, "").rstrip()
    dispatch = "\n".join([
        'if [ -n "$RESUME_REASON" ]; then',
        f'  {gitops} resume --reason "$RESUME_REASON" --by "$GITHUB_ACTOR"',
        "fi",
        'if [ -n "$APPROVE_GATE" ]; then',
        f'  {gitops} approve "$APPROVE_GATE" --recorded',
        "fi",
        'if [ -n "$RETRY_TASK" ]; then',
        f'  {gitops} retry "$RETRY_TASK"',
        "fi",
    ]) + "\n"
    # `gitops status --outputs` writes key=value lines for $GITHUB_OUTPUT: no jq, no parsing in bash.
    outputs = ("current_phase", "done", "pending", "awaiting", "proceed")
    return {
        "name": "Plan",
        # A comment runs the pipeline only when it is a command (then the plan job checks its author).
        "if": f"${{{{ github.event_name != 'issue_comment' || startsWith(github.event.comment.body, '{COMMAND_PREFIX}') }}}}",
        "runs-on": "ubuntu-latest",
        "timeout-minutes": SHORT_JOB_MINUTES,
        "permissions": job_permissions(
            actions=("read", "the gate environments' reviewers; approve --recorded: deployment reviews of this run"),
            contents=("write", "state commits (recover, retry, resume, approve, claims)"),
            issues=("write", "answer a /gitops comment (a reaction, a reply)"),
            pull_requests=("read", "approve --recorded: the merged phase PR"),
        ),
        "outputs": {**{key: f"${{{{ steps.plan.outputs.{key} }}}}" for key in outputs},
                    # After the claim (when tasks may start): what this run starts.
                    "pending": "${{ steps.claim.outputs.pending || steps.plan.outputs.pending }}"},
        "steps": [
            *setup_steps(),
            # Fail closed: a missing environment would be created unprotected by the first job that
            # names it, and a gate without required reviewers would stop nobody (gitops.github.preflight).
            {"name": "Check that every gate waits for a reviewer", "env": {**TOKEN_ENV, **GATES_ENV},
             "run": f"{gitops} setup-github --check\n"},
            # A task still `running` for another run whose run has completed lost its job (cancelled,
            # timed out): record it as failed first (gitops.plan.stale, gitops.github.run_status).
            {"name": "Record tasks an ended run left running", "env": dict(TOKEN_ENV), "run": f"{gitops} recover\n"},
            # The comment is read from the event file, never pasted into the script.
            {"name": "Read a /gitops command", "id": "comment", "if": "${{ github.event_name == 'issue_comment' }}",
             "env": dict(TOKEN_ENV), "run": f'{gitops} comment-command >> "$GITHUB_OUTPUT"\n'},
            {"name": "Apply the dispatch inputs",
             "if": "${{ github.event_name == 'workflow_dispatch' || github.event_name == 'issue_comment' }}",
             "env": {**DISPATCH_ENV, **TOKEN_ENV}, "run": dispatch},
            {"name": "Read the state", "id": "state", "if": "${{ github.event_name == 'push' }}",
             "env": dict(TOKEN_ENV), "run": f'{gitops} status --outputs >> "$GITHUB_OUTPUT"\n'},
            # Merging the phase PR is the approval of the next phase's gate; --recorded checks the merge.
            {"name": "Record a merged phase PR",
             "if": "${{ github.event_name == 'push' && steps.state.outputs.phase_gate == 'pending' }}",
             "env": {"PHASE_GATE": "phase-${{ steps.state.outputs.current_phase }}", **TOKEN_ENV},
             "run": f'{gitops} approve "$PHASE_GATE" --recorded\n'},
            {"name": "Plan", "id": "plan", "env": dict(TOKEN_ENV),
             "run": f'{gitops} plan --json\n{gitops} status --outputs | tee -a "$GITHUB_OUTPUT"\n'},
            # The tasks ready now start in this run, and in no other (gitops.run.claims); `pending` then
            # leaves out what an overlapping run claimed, so this run's jobs of those tasks skip.
            {"name": "Claim the tasks this run starts", "id": "claim", "if": "${{ steps.plan.outputs.proceed == 'true' }}",
             "env": {"PENDING": "${{ steps.plan.outputs.pending }}", **TOKEN_ENV},
             "run": f'{gitops} claim --outputs "$PENDING" >> "$GITHUB_OUTPUT"\n'},
        ],
    }
