"""Fixtures shared by the slow migration tests: one repository copy with both dspy environments, per session."""
from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from migration.environments.environment import Environment, SetupError, uv_command
from migration.environments.sides import VERSIONS
from tests.conftest import ROOT

# What handlers that run the assistant in the environments read: its source, its docs, its tests.
REPO_FILES = ("pyproject.toml", "constraints.txt", "README.md", "docs", "deploy", "migration", "gitops", "assistant",
              "tests/__init__.py", "tests/conftest.py", "tests/postgres.py", "tests/assistant")


def copy_repo(folder: Path, names: tuple[str, ...] = REPO_FILES) -> Path:
    """Copy `names` from the checkout into `folder` (the checkout itself is never touched)."""
    for name in names:
        source, target = ROOT / name, folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
        elif source.exists():
            shutil.copy2(source, target)
    return folder


@pytest.fixture(scope="session")
def dspy_environments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A repository copy with `.venvs/production` (dspy 2.6.27) and `.venvs/candidate` (3.0.1), built as Task 1.1 does.

    Built once per session, both at once (uv works in parallel; about a minute with a warm cache).
    """
    try:
        uv_command(os.environ)
    except SetupError as exc:
        pytest.skip(str(exc))
    root = copy_repo(tmp_path_factory.mktemp("repo-with-envs"))
    environ = dict(os.environ)
    envs = {name: Environment(name, root, environ) for name in VERSIONS}
    with ThreadPoolExecutor(max_workers=len(envs)) as pool:
        setups = dict(zip(envs, pool.map(lambda name: envs[name].create(VERSIONS[name]), envs), strict=True))
    return {"root": root, "environ": environ, "envs": envs, "setups": setups}
