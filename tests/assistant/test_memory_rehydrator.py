"""MemoryRehydrator: hybrid retrieval over SQLite, with FTS5 and without it."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.memory_rehydrator import EpisodicEvent, MemoryKind, MemoryRehydrator
from assistant.memory_schema import SCHEMA_VERSION, fts5_available, fts_query

BACKENDS = [
    pytest.param(
        True,
        id="fts5",
        marks=pytest.mark.skipif(not fts5_available(), reason="sqlite3 without FTS5"),
    ),
    pytest.param(False, id="python-bm25"),
]


def ticking_clock(start: float = 1000.0) -> Callable[[], float]:
    """A clock that advances one second per reading: recency is deterministic."""
    ticks = itertools.count(start)
    return lambda: float(next(ticks))


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Iterator[MemoryRehydrator]:
    with MemoryRehydrator(clock=ticking_clock(), use_fts5=request.param) as memory:
        memory.remember(
            "doc:task-4.1", "Task 4.1 adds AsyncMemoryRehydrator using asyncio.to_thread."
        )
        memory.remember("doc:halt", "Run gitops resume with a reason to clear a halted pipeline.")
        memory.remember("doc:garden", "Water the tomatoes every morning.")
        memory.add_event("s1", "question", "How do I clear a halted pipeline?")
        memory.add_event("s1", "answer", "Use gitops resume.")
        memory.add_event("s2", "question", "What does the background flusher do?")
        yield memory


def labels(memories: list) -> list[str]:
    return [m.label for m in memories]


def test_fts5_is_detected_on_this_machine() -> None:
    # Not a requirement (the fallback exists), but say so loudly if the build lacks it.
    assert fts5_available(), (
        f"sqlite3 {sqlite3.sqlite_version} lacks FTS5; memory uses the slower fallback"
    )


def test_rehydrate_ranks_matching_memories_from_both_stores(store: MemoryRehydrator) -> None:
    found = store.rehydrate("clear a halted pipeline", k=3)
    # Each is its store's best match; the event is also shorter (cosine) and newer.
    assert labels(found)[:2] == ["s1/question", "doc:halt"]
    assert {m.kind for m in found[:2]} == {MemoryKind.LONG_TERM, MemoryKind.EPISODIC}
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


def test_unrelated_memories_are_not_returned(store: MemoryRehydrator) -> None:
    assert "doc:garden" not in labels(store.rehydrate("halted pipeline", k=10))
    assert store.rehydrate("kubernetes", k=5) == []


def test_session_filter_applies_to_episodic_memory_only(store: MemoryRehydrator) -> None:
    found = labels(store.rehydrate("halted pipeline resume", k=10, session="s2"))
    assert "doc:halt" in found
    assert not [label for label in found if label.startswith("s1/")]


def test_recency_breaks_ties_between_equal_matches(store: MemoryRehydrator) -> None:
    first = store.add_event("s3", "note", "The rake is in the shed.")
    second = store.add_event("s3", "note", "The rake is in the shed.")
    found = store.rehydrate("rake shed", k=2)
    assert [m.id for m in found] == [second, first]


def test_an_empty_query_returns_the_session_recent_events(store: MemoryRehydrator) -> None:
    assert labels(store.rehydrate("?!", k=5, session="s1")) == ["s1/answer", "s1/question"]
    assert store.rehydrate("the a of", k=5) == []


def test_remember_replaces_by_key_and_reindexes(store: MemoryRehydrator) -> None:
    first = store.remember("doc:garden", "Basil needs less water.")
    assert store.counts()[MemoryKind.LONG_TERM] == 3
    assert "doc:garden" not in labels(store.rehydrate("tomatoes", k=5))
    assert [m.id for m in store.rehydrate("basil", k=5)] == [first]


def test_forget_deletes_from_the_index_too(store: MemoryRehydrator) -> None:
    assert store.forget("doc:garden") and not store.forget("doc:garden")
    assert store.rehydrate("tomatoes", k=5) == []


def test_consolidate_moves_a_session_into_long_term_memory(store: MemoryRehydrator) -> None:
    memory_id = store.consolidate("s1")
    assert store.counts() == {MemoryKind.EPISODIC: 1, MemoryKind.LONG_TERM: 4}
    (summary,) = [m for m in store.rehydrate("halted pipeline", k=5) if m.label == "session:s1"]
    assert summary.id == memory_id
    assert (
        summary.content == "question: How do I clear a halted pipeline?\nanswer: Use gitops resume."
    )
    assert store.consolidate("s1") is None


def test_prune_drops_old_events(store: MemoryRehydrator) -> None:
    assert (
        store.prune_events(older_than=1004.5) == 2
    )  # the clock read 1003, 1004, 1005 for the events
    assert labels(store.recent_events("s1")) == []
    assert labels(store.recent_events("s2")) == ["s2/question"]


def test_add_events_is_one_transaction(store: MemoryRehydrator) -> None:
    before = store.counts()[MemoryKind.EPISODIC]
    bad = EpisodicEvent("s4", "note", None)  # type: ignore[arg-type]  # violates NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        store.add_events([EpisodicEvent("s4", "note", "fine"), bad])
    assert store.counts()[MemoryKind.EPISODIC] == before
    ids = store.add_events(
        [EpisodicEvent("s4", "note", "one", 5.0), EpisodicEvent("s4", "note", "two")]
    )
    assert len(ids) == 2 and ids[0] < ids[1]
    assert [(m.content, m.at) for m in store.recent_events("s4")][1:] == [("one", 5.0)]


def test_concurrent_writers_and_readers(store: MemoryRehydrator) -> None:
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(25):
                store.add_event(f"t{n}", "note", f"thread {n} wrote note {i} about the pipeline")
                store.rehydrate("pipeline note", k=3)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert store.counts()[MemoryKind.EPISODIC] == 3 + 8 * 25


@pytest.mark.parametrize("use_fts5", [p.values[0] for p in BACKENDS])
def test_a_file_store_persists_across_connections(tmp_path: Path, use_fts5: bool) -> None:
    path = tmp_path / "memory.db"
    with MemoryRehydrator(path, use_fts5=use_fts5) as memory:
        memory.remember("doc:halt", "gitops resume clears a halt")
    with MemoryRehydrator(path, use_fts5=use_fts5) as memory:
        assert labels(memory.rehydrate("halt", k=1)) == ["doc:halt"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.skipif(not fts5_available(), reason="sqlite3 without FTS5")
def test_a_store_written_without_fts5_is_indexed_when_opened_with_it(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    with MemoryRehydrator(path, use_fts5=False) as memory:
        memory.remember("doc:halt", "gitops resume clears a halt")
    with MemoryRehydrator(path, use_fts5=True) as memory:
        assert memory.uses_fts5
        assert labels(memory.rehydrate("halt", k=1)) == ["doc:halt"]


@pytest.mark.parametrize("query", ['"quoted" OR NEAR(a b)', "col:umn * ^start", "don't -minus"])
def test_query_syntax_never_reaches_fts5(store: MemoryRehydrator, query: str) -> None:
    store.rehydrate(query, k=3)  # must not raise sqlite3.OperationalError


def test_fts_query_quotes_each_unique_word() -> None:
    assert (
        fts_query('Clear the "halted" pipeline, clear it!') == '"clear" OR "halted" OR "pipeline"'
    )
