"""Shared fixtures: small task lists built in code, and the paths of the real ones."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
# The original B-1006 task list, defects and all (a copy of shared/seed/000_c38a5f2c88f0ed45.txt).
SEED = DATA / "seed" / "B-1006-seed.md"
# The PostgreSQL server of the assistant's long-term memory (fixtures postgres_server, database_url).
pytest_plugins = ["tests.postgres"]

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# `gitops` commands in tests do not track to MLflow unless a test turns it on (test_cli_tracking).
os.environ.setdefault("GITOPS_TRACKING", "off")


@pytest.fixture
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")
