"""Long-term memory in a real PostgreSQL server: same answers sync and async, schema kept, clear failures."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from assistant.memory_postgres import MemoryServerError, tsquery, where
from assistant.memory_postgres import database_url as find_url
from assistant.memory_rehydrator import AsyncMemoryRehydrator, EpisodicEvent, MemoryKind, MemoryRehydrator
from migration.memory import network, workload
from migration.memory.latency_proxy import ProxyProcess
from tests.assistant.test_async_memory import run
from tests.assistant.test_memory_rehydrator import ticking_clock

DOCUMENTS = {
    "doc:halt": "Run gitops resume with a reason to clear a halted pipeline.",
    "doc:task-4.1": "Task 4.1 adds AsyncMemoryRehydrator; long-term memory lives in PostgreSQL.",
    "doc:garden": "Water the tomatoes every morning; tomatoes like sun.",
    "doc:pipeline": "The pipeline runs tasks; a halted pipeline waits for a human to resume it.",
}
QUERIES = ["clear a halted pipeline", "tomatoes", "long-term memory PostgreSQL", "kubernetes", "resume the task"]


@pytest.fixture
def stores(tmp_path: Path, database_url: str) -> Iterator[tuple[Path, str]]:
    path = tmp_path / "memory.db"
    with MemoryRehydrator(path, clock=ticking_clock(), database_url=database_url) as store:
        for key, text in DOCUMENTS.items():
            store.remember(key, text, source="test")
        store.add_events([EpisodicEvent("s1", "question", "How do I clear a halted pipeline?"),
                          EpisodicEvent("s1", "answer", "Use gitops resume."),
                          EpisodicEvent("s2", "note", "tomatoes need water")])
    yield path, database_url


def answers(memories: list) -> list[tuple[str, int, str]]:
    return [(m.kind.value, m.id, m.label) for m in memories]


def test_long_term_memory_lives_in_postgresql_ranked_there(stores: tuple[Path, str]) -> None:
    path, url = stores
    with psycopg.connect(url) as db:
        assert db.execute("SELECT count(*) FROM long_term_memory WHERE tsv IS NOT NULL").fetchone() == (4,)
    with MemoryRehydrator(path, database_url=url) as store:
        assert store.counts() == {MemoryKind.EPISODIC: 3, MemoryKind.LONG_TERM: 4}
        ranked = store.candidates(MemoryKind.LONG_TERM, "halted pipeline")
        assert [memory.label for _, memory in ranked] == ["doc:pipeline", "doc:halt"]  # two hits beat one
        assert store.long_term_store == f"PostgreSQL at {where(url)}"
    with MemoryRehydrator(path) as sqlite_only:  # the same file without a server: nothing there
        assert sqlite_only.counts()[MemoryKind.LONG_TERM] == 0


def test_sync_and_async_give_identical_results(stores: tuple[Path, str]) -> None:
    path, url = stores
    with MemoryRehydrator(path, database_url=url) as store:
        expected = [answers(store.rehydrate(q, k=5)) for q in QUERIES]
        expected_session = answers(store.rehydrate("halted pipeline", k=3, session="s1"))
    assert any(kind == "long_term" for found in expected for kind, _, _ in found)

    async def main() -> tuple[list, list]:
        async with AsyncMemoryRehydrator(path, database_url=url, ltm_connections=3) as memory:
            found = await asyncio.gather(*(memory.rehydrate(q, k=5) for q in QUERIES * 4))
            session = await memory.rehydrate("halted pipeline", k=3, session="s1")
        return [answers(f) for f in found], answers(session)

    found, session = run(main)
    assert found == expected * 4
    assert session == expected_session


def test_async_writes_reach_postgresql_and_consolidate_keeps_new_events(stores: tuple[Path, str]) -> None:
    path, url = stores

    async def main() -> dict:
        async with AsyncMemoryRehydrator(path, database_url=url) as memory:
            new_id = await memory.remember("doc:new", "A fresh memory about flusher batches.")
            assert await memory.forget("doc:garden") and not await memory.forget("doc:garden")
            await memory.add_event("s1", "note", "one more turn")
            moved = await memory.consolidate("s1", key="summary:s1")
            found = await memory.rehydrate("flusher batches", k=1)
            return {"new": new_id, "found": found[0].label, "moved": moved, "counts": await memory.counts()}

    out = run(main)
    assert out["found"] == "doc:new" and out["moved"]
    assert out["counts"] == {MemoryKind.EPISODIC: 1, MemoryKind.LONG_TERM: 5}  # s2's event stays
    with MemoryRehydrator(path, database_url=url) as store:
        summary = store.candidates(MemoryKind.LONG_TERM, "gitops resume")[0][1]
        assert summary.label == "summary:s1"
        assert summary.content.splitlines() == ["question: How do I clear a halted pipeline?",
                                                "answer: Use gitops resume.", "note: one more turn"]


def test_a_server_without_the_schema_gets_it_and_old_rows_are_kept(tmp_path: Path, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as db:  # the table as an older version made it
        db.execute("CREATE TABLE long_term_memory (id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL UNIQUE, "
                   "content TEXT NOT NULL, source TEXT NOT NULL DEFAULT '', updated_at DOUBLE PRECISION NOT NULL)")
        db.execute("INSERT INTO long_term_memory (key, content, updated_at) VALUES ('doc:old', 'an old halted pipeline', 1)")
    for _ in range(2):  # and opening again changes nothing
        with MemoryRehydrator(tmp_path / "m.db", database_url=database_url) as store:
            assert [m.label for _, m in store.candidates(MemoryKind.LONG_TERM, "halted")] == ["doc:old"]
    with psycopg.connect(database_url) as db:
        assert db.execute("SELECT version FROM memory_schema").fetchall() == [(1,)]


def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (a server that hangs)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@pytest.fixture
def hanging_port() -> Iterator[int]:
    yield from silent_port()


@pytest.mark.parametrize("kind", ["refused", "hangs"])
def test_a_database_url_that_does_not_answer_fails_clearly(tmp_path: Path, hanging_port: int, kind: str) -> None:
    if kind == "refused":
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    else:
        port = hanging_port
    url = f"postgresql://nobody@127.0.0.1:{port}/memory?connect_timeout=2"  # libpq's least: a quick test
    expected = (rf"long-term memory: PostgreSQL at 127\.0\.0\.1:{port}/memory does not answer \(.+\)\. Start the "
                r"project's server with `scripts/postgres start`, or point DATABASE_URL at a running server")
    with pytest.raises(MemoryServerError, match=expected):
        MemoryRehydrator(tmp_path / "m.db", database_url=url)

    async def main() -> None:
        async with AsyncMemoryRehydrator(tmp_path / "m.db", database_url=url):
            pass

    with pytest.raises(MemoryServerError, match=expected):
        run(main)  # under the helper's 10 s limit: connect_timeout ends it, not the OS


def test_which_server_the_url_names(tmp_path: Path) -> None:
    assert find_url({"DATABASE_URL": "postgresql://x@db.example:5432/m"}) == "postgresql://x@db.example:5432/m"
    assert find_url({}, root=tmp_path) is None  # no project server running there: SQLite only
    assert tsquery("Clear a HALTED pipeline's task; DROP TABLE x --") == "clear | halted | pipeline | s | task | drop | table | x"


def test_the_workload_store_builds_on_postgresql(tmp_path: Path, database_url: str) -> None:
    info = workload.build_store(tmp_path / "w.db", events=50, documents=20, database_url=database_url)
    assert info["documents"] == 20
    with MemoryRehydrator(tmp_path / "w.db", database_url=database_url) as store:
        assert store.counts() == {MemoryKind.EPISODIC: 50, MemoryKind.LONG_TERM: 20}


def test_a_sync_query_through_a_stalled_network_times_out_then_recovers(stores: tuple[Path, str]) -> None:
    """statement_timeout bounds only the server's work: a stalled link must still end the call."""
    path, url = stores
    with ProxyProcess(*network.host_port(url)) as proxy, MemoryRehydrator(
            path, database_url=network.through(url, proxy.port), query_timeout=0.3) as memory:
        assert memory.rehydrate("halted pipeline", k=2)
        proxy.set_rtt(3000)  # every reply 3 s late: ten times the timeout
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"PostgreSQL at 127\.0\.0\.1:\d+/\w+ gave no answer within 0\.3 s"):
            memory.rehydrate("halted pipeline", k=2)
        assert time.monotonic() - started < 2.0
        proxy.set_rtt(0)
        assert [m.label for m in memory.rehydrate("halted pipeline", k=2)]  # a new connection answers
