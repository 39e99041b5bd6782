"""`python -m assistant` commands."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from assistant.__main__ import main
from assistant.memory_rehydrator import MemoryRehydrator


def test_ask_prints_the_answer_and_its_provenance(
    tiny_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITOPS_LM", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert (
        main(["--root", str(tiny_repo), "ask", "What keeps slugs away?", "--role", "reviewer"]) == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Copper tape keeps slugs away.",
        "(sources: docs/pests.md; role: reviewer; LM: offline DummyLM (deterministic extractive))",
        "(memory: SQLite only, .gitops/assistant/memory.db (no DATABASE_URL and the project's PostgreSQL server "
        "is not running: `scripts/postgres start` for long-term memory in PostgreSQL))",
    ]
    with MemoryRehydrator(tiny_repo / ".gitops" / "assistant" / "memory.db") as memory:  # the turn was recorded
        assert [m.label for m in memory.recent_events("default")] == ["default/answer", "default/question"]


def test_ask_keeps_long_term_memory_in_postgresql_when_a_server_is_named(
    tiny_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.delenv("GITOPS_LM", raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["--root", str(tiny_repo), "ask", "What keeps slugs away?"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("(memory: short-term in SQLite .gitops/assistant/memory.db, long-term in PostgreSQL at ")


def test_ask_with_a_server_that_does_not_answer_says_what_to_start(
    tiny_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DATABASE_URL", f"postgresql://x@127.0.0.1:{port}/memory")
    assert main(["--root", str(tiny_repo), "ask", "What keeps slugs away?"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"python -m assistant: long-term memory: PostgreSQL at 127.0.0.1:{port}/memory does not answer (")
    assert "`scripts/postgres start`" in err and "Traceback" not in err


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["frobnicate"])
    assert exited.value.code == 2
