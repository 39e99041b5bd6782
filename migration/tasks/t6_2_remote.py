"""Task 6.2 with a configured production: not built yet, so said before anything runs on the runner.

Without this, 6.2 would start and validate the embedded stack on the runner while production is
elsewhere, and its figures would look like production's. Its latency reference is reached beside
the proxy, straight at the reference release's port (validation.py), which a production seen
only through its two URLs does not offer; the 24-48 hours window is moving to a scheduled GitHub
evaluation, where validating a production elsewhere belongs.
"""
from __future__ import annotations

from collections.abc import Mapping

from gitops.run.deploying import PRODUCTION_URL, production_url


def refuse_elsewhere(environ: Mapping[str, str]) -> None:
    """RuntimeError naming what to do when a production elsewhere is configured."""
    if production_url(environ):
        raise RuntimeError(
            f"{PRODUCTION_URL} is set ({production_url(environ)}): Task 6.2 validates only the embedded stack on "
            "this machine so far; a production elsewhere is watched by its own Prometheus (deploy/alerts.yml) and "
            "its follower's report (docs/production.md, A production elsewhere). Unset it (and "
            "GITOPS_PROMETHEUS_URL) to rehearse here.")
