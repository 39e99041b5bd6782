"""Handlers of a task that deploys, for test_deployments.py (a handler process imports them)."""
from __future__ import annotations

from gitops.handlers import Check, Handler

PASSES = Handler(action=lambda ctx: None, checks={"criterion 1": lambda ctx: Check.passed("served by the canary")})
FAILS = Handler(action=lambda ctx: None,
                checks={"criterion 1": lambda ctx: Check.failed("the analysis rolled the canary back")})
