"""The PostgreSQL server tests share: one per session, a fresh database per test that asks.

`DATABASE_URL` set: that server is used (and left running). Otherwise the project's own server
(`scripts/postgres`, assistant/memory_server.py) is started, installing Debian's postgresql when
missing, as CI does on a fresh clone; it is stopped at the end unless it was already running.
Each test gets a database of its own, so tests never see each other's memories.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from assistant import memory_server

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a running server (its default database)."""
    with memory_server.serving(ROOT, os.environ) as url:
        yield url


def with_database(url: str, name: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    return make_conninfo(**{**conninfo_to_dict(url), "dbname": name})


@contextmanager
def fresh_database(server: str, prefix: str = "test") -> Iterator[str]:
    """A new, empty database on `server` for the block, dropped after it."""
    import psycopg  # here, not at import: this plugin loads in every test run

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield with_database(server, name)
    finally:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def database_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the session's server, dropped after the test."""
    with fresh_database(postgres_server) as url:
        yield url
