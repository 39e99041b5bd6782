"""Rolling production back by hand: the rollout's stable release at 100%, the canary at 0.

What a person asks for when production misbehaves after a completed rollout (stable already
retired), or during one. The stable release comes back as deploy/production.yaml checks it in
(its environment, no injected fault), the canary keeps running at weight 0 so that it can be
looked at, and the declaration is a commit like every other (history.GitHistory), converged by
the reconciler: "rollback by hand: <reason> (<who>)".
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from migration.production.deployment import Production
from migration.production.spec import Spec


def rolled_back(declared: Spec, checked_in: Spec) -> Spec:
    """`declared` with the checked-in stable release back at 100% and every other release at 0."""
    stable = checked_in.release(checked_in.stable)
    if stable is None:
        raise ValueError(f"{checked_in.path}: rollout.stable {checked_in.stable!r} is not among the releases: "
                         "declare the release to roll back to")
    spec = declared.with_release(replace(stable, weight=100, env=()))
    return spec.with_weights({r.name: 0 for r in spec.releases if r.name != stable.name})


def roll_back(declared: Spec, checked_in: Spec, production: Production, reason: str, by: str,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Declare and converge the rollback (here, or pushed to a production elsewhere); what now serves."""
    spec = rolled_back(declared, checked_in)
    production.apply(spec, f"rollback by hand: {reason} ({by})")
    log(f"rolled back: {spec.weights()} on {production.urls()[0]}")
    return {"weights": spec.weights(), "declarations": production.declarations}


def reason_text(reason: str, where: Path) -> str:
    """The reason on one line; an empty one is refused (a rollback is explained in its commit)."""
    text = " ".join(reason.split())
    if not text:
        raise ValueError(f"{where}: a rollback needs a reason (--reason, or GITOPS_ROLLBACK_REASON from the "
                         "workflow's rollback input)")
    return text[:200]
