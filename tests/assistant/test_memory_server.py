"""scripts/postgres (assistant/memory_server.py): what it says about a server, and who it leaves alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import memory_server


def test_status_and_url_of_a_clone_without_a_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert memory_server.main(["status", "--root", str(tmp_path)]) == 3  # pg_ctl's "not running"
    assert memory_server.main(["url", "--root", str(tmp_path)]) == 3
    assert memory_server.main(["stop", "--root", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "not running\nnot running\n"
    assert memory_server.url(tmp_path) is None


def test_a_database_url_is_used_as_it_is_and_nothing_is_started(tmp_path: Path) -> None:
    with memory_server.serving(tmp_path, {"DATABASE_URL": "postgresql://x@db.example/m"}) as url:
        assert url == "postgresql://x@db.example/m"
    assert not (tmp_path / ".gitops").exists()


def test_the_running_server_is_found_by_its_port_file(postgres_server: str) -> None:
    root = Path(__file__).resolve().parents[2]
    if memory_server.url(root) is None:
        pytest.skip("DATABASE_URL names another server: the project's own is not running")
    assert memory_server.url(root) == f"postgresql://gitops@127.0.0.1:{memory_server.port_of(root)}/assistant"
    assert memory_server.running(root)


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        memory_server.main(["restart"])
    assert exited.value.code == 2 and "invalid choice: 'restart'" in capsys.readouterr().err


def test_blocks_that_overlap_share_one_server_and_the_last_to_end_stops_it(tmp_path: Path) -> None:
    """Task 2.1 runs two test sessions at once: they started it twice (initdb on a fresh folder
    twice), and the first to end stopped it under the other."""
    from concurrent.futures import ThreadPoolExecutor

    first, second = memory_server.serving(tmp_path, {}), memory_server.serving(tmp_path, {})
    with ThreadPoolExecutor(2) as pool:  # both start at once on a folder with no cluster yet
        urls = list(pool.map(lambda block: block.__enter__(), (first, second)))
    try:
        assert urls[0] == urls[1] and memory_server.running(tmp_path)
        first.__exit__(None, None, None)
        assert memory_server.running(tmp_path)  # the second block still uses it
    finally:
        second.__exit__(None, None, None)
    assert not memory_server.running(tmp_path)
