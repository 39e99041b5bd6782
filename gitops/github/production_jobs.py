"""What the workflow adds where a phase deploys production (issue 15, item 7).

- The deploying task's job gets `deployments: write`: the engine records the task's execution
  as a Deployment with statuses (gitops.run.deploying), so the repository's Environments page
  shows the history. GitHub also lists a deployment of its own for a job that names an
  environment; that one records the approval and the job, ours the rollout and the URL.
- Its run step gets where production is, from repository variables (*Settings → Secrets and
  variables → Actions → Variables*): GITOPS_PRODUCTION_URL and GITOPS_PROMETHEUS_URL. Unset, the
  job rehearses on the runner with the embedded stack and says so. Set, it pushes each declaration
  to GITOPS_PRODUCTION_BRANCH of GITOPS_PRODUCTION_REMOTE, which production's follower applies,
  with the production environment's secret GITOPS_PRODUCTION_DEPLOY_KEY (docs/production.md).
- A `rollback` dispatch input: its text is the reason, and the `rollback` job runs
  `gitops rollback` behind the production environment (a reviewer approves it, as a deploy).
  The reason reaches the command through the environment, never pasted into the script.
"""
from __future__ import annotations

from typing import Any, Callable

# Where production answers (its proxy and its Prometheus); the jobs that deploy also get how to push to it.
OBSERVE_SETTINGS = {"GITOPS_PRODUCTION_URL": "${{ vars.GITOPS_PRODUCTION_URL }}",
                    "GITOPS_PROMETHEUS_URL": "${{ vars.GITOPS_PROMETHEUS_URL }}"}
PRODUCTION_SETTINGS = {**OBSERVE_SETTINGS,
                       # The git remote and branch that production's follower applies, and the deploy key
                       # that may push there: an environment secret, so only jobs behind the production
                       # environment's approval get it (migration/production/push_access.py).
                       "GITOPS_PRODUCTION_REMOTE": "${{ vars.GITOPS_PRODUCTION_REMOTE }}",
                       "GITOPS_PRODUCTION_BRANCH": "${{ vars.GITOPS_PRODUCTION_BRANCH }}",
                       "GITOPS_PRODUCTION_DEPLOY_KEY": "${{ secrets.GITOPS_PRODUCTION_DEPLOY_KEY }}"}
DEPLOYMENTS_PERMISSION = ("write", "the task's deployment and its statuses (the Environments page)")
ROLLBACK_MINUTES = 30  # builds the stable release's environment, starts it, converges the proxy


def rollback_input() -> dict[str, Any]:
    return {"rollback": {"description": "Roll production back now: why (runs `gitops rollback` behind the "
                                        "production environment)", "required": False, "type": "string",
                         "default": ""}}


def rollback_job(environment: str, setup: list[dict[str, Any]], gitops: Callable[[str], str],
                 permissions: Callable[..., dict[str, str]], token_env: dict[str, str]) -> dict[str, Any]:
    """The job of a `rollback` dispatch: after the plan job's checks (fail closed), in `environment`."""
    return {
        "name": "Roll production back",
        "needs": ["plan"],
        "if": "${{ !cancelled() && needs.plan.result == 'success' && github.event_name == 'workflow_dispatch' && "
              "inputs.rollback != '' }}",
        "runs-on": "ubuntu-latest",
        "environment": environment,
        "timeout-minutes": ROLLBACK_MINUTES,
        "permissions": permissions(contents=("read", "the checkout"), deployments=DEPLOYMENTS_PERMISSION),
        "steps": [
            *setup,
            {"name": "Roll production back",
             "env": {"ROLLBACK_REASON": "${{ inputs.rollback }}", **token_env, **PRODUCTION_SETTINGS},
             "run": gitops('rollback --reason "$ROLLBACK_REASON" --by "$GITHUB_ACTOR"') + "\n"},
        ],
    }
