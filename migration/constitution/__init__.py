"""The constitution of the B-1006 pipeline: articles about outputs and operations, and their checks.

`CONSTITUTION.md` holds the articles; `constitution.default()` pairs each with its checker.
Operations are announced with `operation(kind, **details)`; outputs of assistant modules are
judged by `monitor.OutputMonitor` (a DSPy callback); `pytest_plugin` applies both to tests.
Importing this package does not import DSPy.
"""
from __future__ import annotations

from migration.constitution.articles import Article, ConstitutionError, Scope
from migration.constitution.constitution import Constitution, default
from migration.constitution.model import Operation, OutputRecord, Violation, World
from migration.constitution.operations import ConstitutionViolation, Guard, guarded, operation

__all__ = [
    "Article",
    "Constitution",
    "ConstitutionError",
    "ConstitutionViolation",
    "Guard",
    "Operation",
    "OutputRecord",
    "Scope",
    "Violation",
    "World",
    "default",
    "guarded",
    "operation",
]
