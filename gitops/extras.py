"""Which optional feature needs which extra of `gitops-tasklists`: one table, one check.

`pip install gitops-tasklists` gives the engine alone (lint, plan, run, the local forge,
render). MLflow tracking, the GitHub forge and the B-1006 migration need extras; a feature
calls `require` before it imports one, so a missing extra is one line that says what to
install, never a traceback. Keep the table in step with [project.optional-dependencies].
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Mapping

from gitops.errors import MissingExtra

DISTRIBUTION = "gitops-tasklists"


@dataclass(frozen=True)
class Extra:
    name: str  # pip install 'gitops-tasklists[<name>]'
    package: str  # the distribution a person knows it by (PyGithub for `import github`)


# Top-level import name -> the extra that installs it.
MODULES: Mapping[str, Extra] = {
    "github": Extra("github", "PyGithub"),
    "mlflow": Extra("mlflow", "mlflow"),
    "dspy": Extra("b1006", "dspy"),
}
# Our own packages that are usable only with an extra: a handler from one of them names it,
# whichever of that extra's libraries turned out to be missing (packaging, dspy, mlflow...).
PACKAGES: Mapping[str, str] = {
    "migration": "b1006",
    "assistant": "b1006",
}


def install_command(extra: str) -> str:
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def installed(module: str) -> bool:
    """Is the top-level module importable? (Finds it without importing it: mlflow takes seconds.)"""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-removed install counts as missing
        return False


def require(module: str, feature: str, otherwise: str = "") -> None:
    """MissingExtra (exit 2) unless `module` is installed, e.g. "the GitHub forge needs PyGithub:
    pip install 'gitops-tasklists[github]', or use --forge local"."""
    if installed(module):
        return
    extra = MODULES[module]
    raise MissingExtra(f"{feature} needs {extra.package}: {install_command(extra.name)}"
                       + (f", or {otherwise}" if otherwise else ""))


def missing_hint(exc: BaseException, owner: str) -> str | None:
    """When code of module `owner` failed because a module is not installed: which extra to
    install, in one line; None for other errors, or when no extra of ours provides the module
    (then it is the owner's own dependency and the traceback says more)."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    missing = exc.name.partition(".")[0]
    extra = PACKAGES.get(owner.partition(".")[0]) or (MODULES[missing].name if missing in MODULES else None)
    if extra is None:
        return None
    return f"{owner} needs {missing}, which is not installed: {install_command(extra)}"
