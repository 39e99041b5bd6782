"""B-1006 handler registry: task id -> "module:attribute" of a gitops.handlers.Handler.

Kept free of heavy imports: `gitops lint` and `gitops status` read it to know which tasks
are automated. Tasks not listed here are manual until their handler lands.
"""
from __future__ import annotations

HANDLERS: dict[str, str] = {
    "1.1": "migration.setup_environments:HANDLER",
    "1.2": "migration.configure_dspy3:HANDLER",
    "2.1": "migration.constitution_testing:HANDLER",
    "2.2": "migration.module_compatibility:HANDLER",
    "2.3": "migration.performance_benchmarks:HANDLER",
    "3.1": "migration.assertion_replacement:HANDLER",
    "3.2": "migration.enhanced_optimizers:HANDLER",
    "3.3": "migration.budget_enforcement:HANDLER",
    "4.1": "migration.async_memory_tasks:HANDLER_4_1",
    "4.2": "migration.async_memory_tasks:HANDLER_4_2",
    "5.1": "migration.mlflow_setup:HANDLER",
    "5.2": "migration.experiment_tracking:HANDLER",
}
