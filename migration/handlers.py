"""B-1006 handler registry: task id -> "module:attribute" of a gitops.handlers.Handler.

Kept free of heavy imports: `gitops lint` and `gitops status` read it to know which tasks
are automated. Tasks not listed here are manual until their handler lands.
"""
from __future__ import annotations

HANDLERS: dict[str, str] = {}
