"""Task 6.2 against a production elsewhere (GITOPS_PRODUCTION_URL and GITOPS_PROMETHEUS_URL set).

The same evaluation as on the embedded stack (migration/production/validation.py), through the
two URLs and pushes to the followed branch only, as Task 6.1 does there (t6_1_remote.py): the
reference is declared beside production at weight 0 by a commit its follower applies, and is
reached through the proxy by name (render.RELEASE_HEADER), since a production seen through its
URL offers no release's own port; Prometheus' figures and alerts come from its URL; the drill's
fault is declared and withdrawn by commits. Nothing is started on the runner.
"""
from __future__ import annotations

from gitops.handlers import Check, TaskContext
from migration.production.contract import check as contract_check
from migration.production.loadgen import devset_questions
from migration.production.remote import RemoteProduction, Settings
from migration.tasks import t6_1_remote


def production(ctx: TaskContext) -> RemoteProduction:
    """The configured production, its declarations pushed to the branch its follower applies."""
    return t6_1_remote.production(ctx, doing="validating")


def check_functionality(ctx: TaskContext, reference: dict[str, str]) -> Check:
    """The HTTP contract through the production URL after the window (`reference`: Task 6.1's stable answers)."""
    url = Settings.from_environ(ctx.environ).production_url
    results = contract_check(url, devset_questions(), reference)
    failed = [r for r in results if not r.passed]
    return (Check.passed if not failed else Check.failed)(
        f"contract through {url} after the validation window: "
        + "; ".join(f"{'ok' if r.passed else 'FAILED'} {r.name}: {r.detail}" for r in results), failed=len(failed))
