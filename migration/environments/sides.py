"""The two sides of B-1006: the environments every task compares and the dspy each one holds."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gitops.handlers import TaskContext
from migration.environments.environment import Environment

PRODUCTION, CANDIDATE = "production", "candidate"
VERSIONS: dict[str, str] = {PRODUCTION: "2.6.27", CANDIDATE: "3.0.1"}
# Production first: tasks that measure one side at a time run in this order, and reports list it so.
SIDES: tuple[str, str] = (PRODUCTION, CANDIDATE)


def environments(root: Path, environ: Mapping[str, str]) -> dict[str, Environment]:
    """Both environments under the repository root (nothing is built)."""
    return {name: Environment(name, root, environ) for name in SIDES}


def ready_environments(ctx: TaskContext) -> dict[str, Environment]:
    """Both environments of Task 1.1, verified (or built: `Environment.create` is idempotent)."""
    envs = environments(ctx.root, ctx.environ)
    for name, env in envs.items():
        existed = env.exists()
        setup = env.create(VERSIONS[name])
        done = "verified" if setup.reused else "rebuilt (its inputs had changed)" if existed else "built (run Task 1.1 first)"
        ctx.log(f"{env.path}: {done} in {setup.seconds:.1f} s")
    return envs
