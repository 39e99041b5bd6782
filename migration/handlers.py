"""B-1006 handler registry: task id -> "module:attribute" of a gitops.handlers.Handler.

Kept free of heavy imports: `gitops lint` and `gitops status` read it to know which tasks
are automated. Tasks not listed here are manual until their handler lands.
"""
from __future__ import annotations

HANDLERS: dict[str, str] = {
    "1.1": "migration.tasks.t1_1_environments:HANDLER",
    "1.2": "migration.tasks.t1_2_configure_dspy3:HANDLER",
    "2.1": "migration.tasks.t2_1_constitution_testing:HANDLER",
    "2.2": "migration.tasks.t2_2_module_compatibility:HANDLER",
    "2.3": "migration.tasks.t2_3_performance_benchmarks:HANDLER",
    "3.1": "migration.tasks.t3_1_assertion_replacement:HANDLER",
    "3.2": "migration.tasks.t3_2_enhanced_optimizers:HANDLER",
    "3.3": "migration.tasks.t3_3_budget_enforcement:HANDLER",
    "4.1": "migration.tasks.t4_1_async_memory_rehydrator:HANDLER_4_1",
    "4.2": "migration.tasks.t4_2_background_flusher:HANDLER_4_2",
    "5.1": "migration.tasks.t5_1_mlflow_setup:HANDLER",
    "5.2": "migration.tasks.t5_2_experiment_tracking:HANDLER",
    "6.1": "migration.tasks.t6_1_production_rollout:HANDLER",
    "6.2": "migration.tasks.t6_2_post_deployment_validation:HANDLER",
}

# Task 6.1's execution deploys production: the engine records a forge deployment around it
# (on GitHub: the repository's Environments page; gitops.run.deploying).
DEPLOYMENTS: tuple[str, ...] = ("6.1",)
# The command that rolls it back by hand (`gitops rollback`, the workflow's rollback input).
ROLLBACKS: dict[str, str] = {"6.1": "scripts/production rollback"}
# Task 6.2 watches production for a window (its handler's Window): on GitHub the task waits and
# the scheduled windows workflow evaluates it (`gitops render` writes that workflow for these tasks).
WINDOWS: tuple[str, ...] = ("6.2",)
