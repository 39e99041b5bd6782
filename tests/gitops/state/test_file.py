"""Tests for gitops/state/file.py: schema, messages, atomic writes and locked concurrent updates."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import filelock
import pytest

from gitops.errors import StateError, TaskListError
from gitops.model import Criterion, Header, Phase, Task, TaskList
from gitops.state import document
from gitops.state import file as state
from gitops.state import parsing
from gitops.state import state_text
from gitops.state.frozen import is_frozen
from gitops.state.strict_json import MAX_DEPTH

WRITER = Path(__file__).with_name("state_writer.py")
NOW = "2025-01-02T03:04:05Z"
RESTORE = "restore the file from git (git checkout -- state.json)"

# The seed's "Current State" block (seed/000_c38a5f2c88f0ed45.txt); its total_tasks (8) is wrong.
SEED_BLOCK = {
    "project": "B-1006-DSPy-3.0-Migration",
    "current_task": None,
    "completed_tasks": [],
    "blocked_tasks": [],
    "total_tasks": 8,
    "completed_count": 0,
    "start_time": None,
    "last_updated": None,
    "test_results": {"passed": 0, "failed": 0},
    "performance_metrics": {},
    "compatibility_issues": [],
    "rollback_ready": False,
}


def make_tasklist(initial_state: dict | None = None) -> TaskList:
    """Two phases, three tasks: 1.1 -> 1.2 -> 2.1."""
    tasks = {
        "1.1": Task("1.1", "Set up", 1, 10, done_when=(Criterion("env works", 12),)),
        "1.2": Task("1.2", "Upgrade", 1, 20, dependencies=("1.1",)),
        "2.1": Task("2.1", "Replace", 2, 30, dependencies=("1.2",)),
    }
    phases = (Phase(1, "Setup", 5, ("1.1", "1.2")), Phase(2, "Migrate", 25, ("2.1",)))
    return TaskList(
        path="migration/B-1006.md",
        title="B-1006",
        header=Header(),
        phases=phases,
        tasks=tasks,
        initial_state=initial_state,
        initial_state_line=40,
        sha256="ab" * 32,
    )


def full_state() -> dict:
    """A valid state that uses every part of the schema."""
    data = document.new_state(make_tasklist(SEED_BLOCK), NOW)
    data["tasks"]["1.1"].update(status="done", attempts=2, started_at=NOW, finished_at=NOW)
    data["tasks"]["1.1"]["checks"] = [
        {"criterion": "env works", "status": "passed", "evidence": "pytest: 12 passed",
         "metrics": {"latency_ms": 12.5, "tests": 12}},
        {"criterion": "reviewed", "status": "manual", "evidence": "", "metrics": {}, "approved_by": "ana"},
    ]
    data["gates"] = {"1.1": {"status": "approved", "approved_by": "ana", "at": NOW},
                     "phase-2": {"status": "pending", "approved_by": None, "at": None}}
    data["hotfixes"] = [{"id": "T-HotFix-1", "task": "1.1", "attempt": 1, "status": "resolved",
                         "issue": ".gitops/forge/issues/1.md", "error": "boom", "opened_at": NOW,
                         "resolved_at": NOW}]
    data["resumes"] = [{"reason": "fixed the runner", "at": NOW, "by": "ana"}]
    data["halted"] = {"reason": "2 consecutive failures", "at": NOW}
    return data


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state.json"


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def message_of(data: object) -> str:
    with pytest.raises(StateError) as caught:
        parsing.validate(data, "state.json")
    return str(caught.value)


# --- new_state --------------------------------------------------------------------------


def test_new_state_from_dataclasses_without_block() -> None:
    pending = {"status": "pending", "attempts": 0, "started_at": None, "finished_at": None, "commit": None,
               "run_url": None, "runner": None, "mlflow_run_id": None, "error": None, "checks": []}
    assert document.new_state(make_tasklist(), NOW) == {
        "schema_version": 1,
        "project": "B-1006",
        "tasklist": "migration/B-1006.md",
        "tasklist_sha256": "ab" * 32,
        "current_task": None,
        "current_phase": 1,
        "completed_tasks": [],
        "blocked_tasks": [],
        "total_tasks": 3,
        "completed_count": 0,
        "consecutive_failures": 0,
        "start_time": None,
        "last_updated": NOW,
        "test_results": {"passed": 0, "failed": 0},
        "performance_metrics": {},
        "compatibility_issues": [],
        "rollback_ready": False,
        "halted": None,
        "paused_by": None,
        "tasks": {"1.1": pending, "1.2": pending, "2.1": pending},
        "gates": {},
        "hotfixes": [],
        "resumes": [],
    }


def test_new_state_from_seed_block_corrects_total_tasks() -> None:
    data = document.new_state(make_tasklist(SEED_BLOCK), NOW)
    assert data["total_tasks"] == 3
    assert data["project"] == "B-1006-DSPy-3.0-Migration"
    assert data["start_time"] is None
    assert data["last_updated"] == NOW
    assert {key: data[key] for key in SEED_BLOCK if key not in ("total_tasks", "last_updated")} == {
        key: value for key, value in SEED_BLOCK.items() if key not in ("total_tasks", "last_updated")
    }
    assert parsing.validate(data, "state.json") is data


def test_new_state_keeps_extra_block_keys_but_owns_engine_keys() -> None:
    block = {"owner": "ana", "tasks": "ignored", "schema_version": 7, "test_results": {"passed": 3}}
    data = document.new_state(make_tasklist(block), NOW)
    assert data["owner"] == "ana"
    assert data["schema_version"] == 1
    assert set(data["tasks"]) == {"1.1", "1.2", "2.1"}
    assert data["test_results"] == {"passed": 3}


def test_new_state_does_not_share_the_block() -> None:
    block = {"test_results": {"passed": 0}, "compatibility_issues": []}
    data = document.new_state(make_tasklist(block), NOW)
    data["test_results"]["passed"] = 5
    data["compatibility_issues"].append("x")
    assert block == {"test_results": {"passed": 0}, "compatibility_issues": []}


def test_new_state_without_phases_or_tasks() -> None:
    empty = TaskList(path="plan.md", title="", header=Header(), phases=(), tasks={})
    data = document.new_state(empty, NOW)
    assert (data["current_phase"], data["total_tasks"], data["tasks"], data["project"]) == (None, 0, {}, "plan")


def test_new_state_rejects_a_bad_block_value_naming_the_task_list() -> None:
    with pytest.raises(TaskListError) as caught:
        document.new_state(make_tasklist({"rollback_ready": "no"}), NOW)
    assert str(caught.value) == (
        'migration/B-1006.md:40: Current State block: key "rollback_ready": expected true or false, '
        'got "no". Fix the value in the task list.'
    )


# --- dumps, save, load ------------------------------------------------------------------


def test_dumps_sorts_keys_indents_two_spaces_and_ends_with_newline() -> None:
    assert state_text.dumps({"b": [1], "a": {"d": "é", "c": None}}) == (
        '{\n  "a": {\n    "c": null,\n    "d": "é"\n  },\n  "b": [\n    1\n  ]\n}\n'
    )


def test_round_trip(path: Path) -> None:
    data = full_state()
    assert state.save(path, data) is True
    assert state.load(path) == data
    assert state.load(path) == data
    assert path.read_text(encoding="utf-8") == state_text.dumps(data)


def test_load_missing_file_is_none(path: Path) -> None:
    assert state.load(path) is None
    assert state.load(path) is None


def test_save_writes_only_when_content_changed(path: Path) -> None:
    data = full_state()
    assert state.save(path, data)
    before = path.stat()
    time.sleep(0.01)
    assert state.save(path, json.loads(json.dumps(data))) is False
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    data["consecutive_failures"] = 1
    assert state.save(path, data) is True
    assert path.stat().st_ino != before.st_ino  # replaced, not rewritten in place


def test_save_leaves_no_temp_files(path: Path) -> None:
    for failures in range(3):
        data = full_state()
        data["consecutive_failures"] = failures
        state.save(path, data)
    assert files_in(path.parent) == {"state.json"}


def test_save_refuses_an_invalid_state_and_leaves_the_file_alone(path: Path) -> None:
    state.save(path, full_state())
    before = path.read_bytes()
    bad = full_state()
    bad["tasks"]["1.2"]["attempts"] = -1
    with pytest.raises(StateError) as caught:
        state.save(path, bad)
    assert str(caught.value) == (
        f'{path}: refusing to write an invalid state: key "tasks.1.2.attempts": expected an integer >= 0, '
        "got -1. This is a bug in gitops or a handler; the file was not changed."
    )
    assert path.read_bytes() == before
    assert files_in(path.parent) == {"state.json"}


def test_save_removes_its_temp_file_when_the_replace_fails(path: Path) -> None:
    path.mkdir()  # os.replace() of a file onto a directory fails
    with pytest.raises(OSError):
        state.save(path, full_state())
    assert files_in(path.parent) == {"state.json"}
    assert path.is_dir()


def test_save_keeps_the_file_mode(path: Path) -> None:
    state.save(path, full_state())
    path.chmod(0o640)
    data = full_state()
    data["paused_by"] = "T-HotFix-1"
    state.save(path, data)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_save_creates_a_new_file_with_the_umask_mode(path: Path) -> None:
    previous = os.umask(0o027)
    try:
        state.save(path, full_state())
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_unknown_keys_are_kept(path: Path) -> None:
    data = full_state()
    data["future"] = {"anything": [1, 2.5, None, True]}
    data["tasks"]["1.1"]["duration_s"] = 3.5
    data["tasks"]["1.1"]["checks"][0]["artifact"] = "report.md"
    data["gates"]["1.1"]["comment"] = "looks good"
    state.save(path, data)
    assert state.load(path) == data
    updated = state.update(path, lambda current: {**current, "consecutive_failures": 1})
    assert updated["future"] == data["future"]
    assert state.load(path)["tasks"]["1.1"]["duration_s"] == 3.5


def test_utf8_byte_order_mark_is_accepted(path: Path) -> None:
    data = full_state()
    path.write_bytes(b"\xef\xbb\xbf" + state_text.dumps(data).encode())
    assert state.load(path) == data


# --- validation messages ----------------------------------------------------------------


def mutate(change: Callable[[dict], object]) -> dict:
    data = full_state()
    change(data)
    return data


INVALID = [
    (
        lambda d: d["tasks"]["1.1"].update(status="finishd"),
        'state.json: key "tasks.1.1.status": "finishd" is not one of pending, running, waiting, awaiting_approval, '
        f"done, failed, skipped. Fix the value or {RESTORE}.",
    ),
    (
        lambda d: d["tasks"]["1.2"].pop("checks"),
        f'state.json: key "tasks.1.2.checks" is missing. Add it or {RESTORE}.',
    ),
    (
        lambda d: d.pop("tasklist_sha256"),
        f'state.json: key "tasklist_sha256" is missing. Add it or {RESTORE}.',
    ),
    (
        lambda d: d.update(total_tasks=True),
        f'state.json: key "total_tasks": expected an integer >= 0, got true. Fix the value or {RESTORE}.',
    ),
    (
        lambda d: d.update(rollback_ready=0),
        f'state.json: key "rollback_ready": expected true or false, got 0. Fix the value or {RESTORE}.',
    ),
    (
        lambda d: d.update(schema_version=2),
        "state.json: schema_version 2 is newer than this gitops understands (1). "
        "Upgrade gitops (pip install -U gitops-tasklists).",
    ),
    (
        lambda d: d.update(schema_version="1"),
        f'state.json: key "schema_version": expected an integer >= 1, got "1". Fix the value or {RESTORE}.',
    ),
    (
        lambda d: d.update(current_phase="1"),
        f'state.json: key "current_phase": expected an integer or null, got "1". Fix the value or {RESTORE}.',
    ),
    (
        lambda d: d["hotfixes"][0].update(status="closed"),
        f'state.json: key "hotfixes[0].status": "closed" is not one of open, resolved. Fix the value or {RESTORE}.',
    ),
    (
        lambda d: d["hotfixes"][0].update(resolved_at=5),
        f'state.json: key "hotfixes[0].resolved_at": expected a string or null, got 5. '
        f"Fix the value or {RESTORE}.",
    ),
    (
        lambda d: d["tasks"]["1.1"]["checks"][0]["metrics"].update(latency_ms="fast"),
        'state.json: key "tasks.1.1.checks[0].metrics.latency_ms": expected a number, got "fast". '
        f"Fix the value or {RESTORE}.",
    ),
    (
        lambda d: d["tasks"]["1.1"]["checks"][1].pop("evidence"),
        f'state.json: key "tasks.1.1.checks[1].evidence" is missing. Add it or {RESTORE}.',
    ),
    (
        lambda d: d.update(halted="yes"),
        f'state.json: key "halted": expected an object or null, got "yes". Fix the value or {RESTORE}.',
    ),
    (
        lambda d: d["gates"]["phase-2"].update(status="open"),
        'state.json: key "gates.phase-2.status": "open" is not one of pending, approved, rejected. '
        f"Fix the value or {RESTORE}.",
    ),
    (
        lambda d: d["resumes"][0].pop("by"),
        f'state.json: key "resumes[0].by" is missing. Add it or {RESTORE}.',
    ),
    (
        lambda d: d.update(completed_tasks=["1.1", 2]),
        f'state.json: key "completed_tasks[1]": expected a string, got 2. Fix the value or {RESTORE}.',
    ),
    (
        lambda d: d.update(tasks=[]),
        f'state.json: key "tasks": expected an object, got a list. Fix the value or {RESTORE}.',
    ),
    (
        lambda d: d["performance_metrics"].update(p95=float("nan")),
        f'state.json: key "performance_metrics.p95": nan is not a JSON number. Fix the value or {RESTORE}.',
    ),
    (
        lambda d: d["test_results"].update(names={"a"}),
        f'state.json: key "test_results.names": a Python set is not a JSON value. Fix the value or {RESTORE}.',
    ),
]


@pytest.mark.parametrize(("change", "expected"), INVALID)
def test_invalid_state_messages(change: Callable[[dict], object], expected: str) -> None:
    assert message_of(mutate(change)) == expected


def test_top_level_must_be_an_object() -> None:
    assert message_of([1]) == f"state.json: expected a JSON object at the top level, got a list. Fix the value or {RESTORE}."


def test_too_deep_nesting_is_rejected() -> None:
    deep: list = []
    data = mutate(lambda d: d.update(compatibility_issues=deep))
    for _ in range(MAX_DEPTH + 5):
        deep.append([])
        deep = deep[0]
    assert "nested more than 64 levels deep" in message_of(data)


def test_validate_returns_the_same_object() -> None:
    data = full_state()
    assert parsing.validate(data, "state.json") is data


# --- load: unreadable files -------------------------------------------------------------


def load_message(path: Path, content: bytes) -> str:
    path.write_bytes(content)
    with pytest.raises(StateError) as caught:
        state.load(path)
    assert path.read_bytes() == content
    return str(caught.value).replace(str(path), "state.json")


def test_load_empty_file(path: Path) -> None:
    expected = (
        "state.json is empty. Restore it from git (git checkout -- state.json), "
        "or delete it to start the pipeline from the beginning."
    )
    assert load_message(path, b"") == expected
    assert load_message(path, b" \n\n") == expected


def test_load_syntax_error_names_line_and_column(path: Path) -> None:
    assert load_message(path, b'{\n  "project": "x",\n  "tasks": {,}\n}\n') == (
        "state.json:3:13: not valid JSON: Expecting property name enclosed in double quotes. "
        f"Fix the syntax or {RESTORE}."
    )


def test_load_not_utf8(path: Path) -> None:
    assert load_message(path, b'{"project": "\xff"}') == (
        "state.json: not UTF-8 text (byte 0xff at offset 13). Restore the file from git (git checkout -- state.json)."
    )


def test_load_duplicate_key(path: Path) -> None:
    assert load_message(path, b'{"a": 1, "a": 2}') == (
        f'state.json: duplicate key "a" in one JSON object. Fix it or {RESTORE}.'
    )


def test_load_merge_conflict(path: Path) -> None:
    text = state_text.dumps(full_state()).replace('  "paused_by": null,\n', (
        '<<<<<<< HEAD\n  "paused_by": null,\n=======\n  "paused_by": "T-HotFix-1",\n>>>>>>> main\n'
    ))
    line = text.splitlines().index("<<<<<<< HEAD") + 1
    assert load_message(path, text.encode()) == (
        f"state.json:{line}: git merge conflict markers. Resolve the conflict, or {RESTORE}."
    )


def test_load_invalid_schema(path: Path) -> None:
    assert load_message(path, b'{"schema_version": 1}') == (
        f'state.json: key "project" is missing. Add it or {RESTORE}.'
    )


def with_project(raw: str) -> bytes:
    """A valid state file whose "project" value is the raw JSON text `raw`."""
    return state_text.dumps(full_state()).replace('"B-1006-DSPy-3.0-Migration"', raw).encode()


def test_load_rejects_what_cannot_be_written_back(path: Path) -> None:
    assert load_message(path, with_project('"\\ud800"')) == (
        'state.json: key "project": contains an unpaired surrogate escape (\\ud800-\\udfff). '
        f"Fix the value or {RESTORE}."
    )
    assert load_message(path, with_project("Infinity")) == (
        f'state.json: key "project": inf is not a JSON number. Fix the value or {RESTORE}.'
    )


def test_load_rejects_unparseable_numbers_and_nesting(path: Path) -> None:
    # Python's own error text follows; it differs between versions.
    assert load_message(path, with_project("9" * 5000)).startswith("state.json: not valid JSON (")
    assert load_message(path, b"[" * 100_000 + b"]" * 100_000).startswith("state.json: not valid JSON (")


def test_load_a_directory(path: Path) -> None:
    path.mkdir()
    with pytest.raises(StateError) as caught:
        state.load(path)
    assert str(caught.value) == (f"{path}: is a directory, not a regular file; the state must be a regular file. "
                                 "Pass --state with the path of state.json (or a new path to start afresh).")


def test_load_a_fifo_does_not_wait_for_a_writer(path: Path) -> None:
    os.mkfifo(path)
    with pytest.raises(StateError) as caught:
        state.load(path)
    assert str(caught.value) == (f"{path}: is a FIFO (named pipe), not a regular file; the state must be a regular "
                                 "file. Pass --state with the path of state.json (or a new path to start afresh).")


def test_load_reads_no_more_than_the_cap(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state, "STATE_LIMIT", 1024 * 1024)
    path.write_bytes(b" " * (1024 * 1024 + 1))
    with pytest.raises(StateError) as caught:
        state.load(path)
    assert str(caught.value) == (
        f"{path}: is 1048577 bytes, more than the 1 MiB gitops reads; the state must be a regular file. "
        "Pass --state with the path of state.json (or a new path to start afresh)."
    )


def test_a_write_removes_old_temp_files_of_killed_writes_and_keeps_new_ones(path: Path) -> None:
    state.save(path, full_state())
    old = path.parent / ".state.json.k1ll3d.tmp"
    old.write_text("{half")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    fresh = path.parent / ".state.json.wr1t1ng.tmp"  # another writer, between its write and its rename
    fresh.write_text("{half")
    state.update(path, set_failures(1))
    assert files_in(path.parent) == {"state.json", "state.json.lock", fresh.name}


# --- update -----------------------------------------------------------------------------


def set_failures(count: int) -> Callable[[dict], dict]:
    def change(current: dict) -> dict:
        current["consecutive_failures"] = count
        return current

    return change


def test_update_creates_the_file(path: Path) -> None:
    initial = full_state()
    result = state.update(path, set_failures(1), create=lambda: initial)
    assert result["consecutive_failures"] == 1
    assert initial["consecutive_failures"] == 0  # change got a copy
    assert state.load(path) == result


def test_update_without_file_or_create(path: Path) -> None:
    with pytest.raises(StateError) as caught:
        state.update(path, set_failures(1))
    assert str(caught.value) == f"{path} does not exist. Run `gitops run` first to create it."
    assert not path.exists()


def test_update_sees_the_newest_state(path: Path) -> None:
    state.save(path, full_state())
    state.update(path, set_failures(1))
    result = state.update(path, lambda current: {**current, "paused_by": f"seen {current['consecutive_failures']}"})
    assert state.load(path)["paused_by"] == result["paused_by"] == "seen 1"


def test_update_without_change_does_not_write(path: Path) -> None:
    state.save(path, full_state())
    before = path.stat()
    state.update(path, lambda current: current)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_update_with_an_invalid_change_leaves_the_file(path: Path) -> None:
    state.save(path, full_state())
    before = path.read_bytes()
    with pytest.raises(StateError, match='key "tasks.1.1.status"'):
        state.update(path, lambda current: {**current, "tasks": {"1.1": {**current["tasks"]["1.1"], "status": "x"}}})
    assert path.read_bytes() == before


def test_update_change_must_return_the_state(path: Path) -> None:
    state.save(path, full_state())
    with pytest.raises(TypeError, match="must return the new state dict, got NoneType"):
        state.update(path, lambda current: None)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b'{"schema_version": 1}', b"\xff\xfe", b"[]", state_text.dumps(mutate(lambda d: d.update(schema_version=9))).encode()],
)
def test_update_never_overwrites_a_corrupt_file(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    with pytest.raises(StateError):
        state.update(path, set_failures(1), create=full_state)
    assert path.read_bytes() == content
    assert files_in(path.parent) <= {"state.json", "state.json.lock"}


def test_update_lock_timeout(path: Path) -> None:
    state.save(path, full_state())
    with filelock.FileLock(f"{path}.lock"):
        with pytest.raises(StateError) as caught:
            state.update(path, set_failures(1), lock_timeout=0.1)
    assert str(caught.value) == (
        f"{path}.lock: another gitops process holds the lock on {path} (waited 0.1 s). "
        "Wait for it to finish, then try again."
    )
    assert state.load(path)["consecutive_failures"] == 0


# --- concurrency: separate OS processes -------------------------------------------------


WRITERS, UPDATES = 8, 25


def run_writers(path: Path, while_running: Callable[[], None] = lambda: None) -> None:
    """Start WRITERS processes together, each making UPDATES updates; call `while_running` until all exit."""
    go = path.with_name("go")
    procs = [
        subprocess.Popen([sys.executable, str(WRITER), str(path), str(k), str(UPDATES), str(go)],
                         stderr=subprocess.PIPE, text=True)
        for k in range(WRITERS)
    ]
    go.touch()
    deadline = time.monotonic() + 120
    while any(proc.poll() is None for proc in procs) and time.monotonic() < deadline:
        while_running()
    errors = [proc.communicate(timeout=10)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * WRITERS, errors


@pytest.mark.slow
def test_concurrent_processes_lose_no_update(path: Path) -> None:
    run_writers(path)  # the file does not exist yet: exactly one writer creates it
    data = json.loads(path.read_text(encoding="utf-8"))
    parsing.validate(data, str(path))
    assert data["performance_metrics"]["counter"] == WRITERS * UPDATES
    assert set(data["tasks"]) == {f"{k}.{i}" for k in range(WRITERS) for i in range(UPDATES)}
    assert files_in(path.parent) == {"state.json", "state.json.lock", "go"}


@pytest.mark.slow
def test_a_reader_never_sees_a_partial_file(path: Path) -> None:
    counters: list[int] = []

    def poll() -> None:
        data = state.load(path)  # raises StateError on a torn or invalid file
        if data is not None:
            counters.append(data["performance_metrics"].get("counter", 0))

    run_writers(path, poll)
    assert counters, "the reader never saw the file"
    assert counters == sorted(counters)  # every read saw a complete, later-or-equal state
    assert state.load(path)["performance_metrics"]["counter"] == WRITERS * UPDATES


# --- a transition's cost does not grow with the task list (issue 12) ----------------------------


def long_state(count: int = 500) -> dict:
    data = full_state()
    data["tasks"].update({f"9.{i}": document.new_task_record() for i in range(count)})
    return data


def test_dumps_encodes_again_only_the_records_that_changed(monkeypatch) -> None:
    data = long_state()
    state_text.dumps(data)
    encoded = []
    pretty = state_text._pretty
    monkeypatch.setattr(state_text, "_pretty", lambda value: encoded.append(value) or pretty(value))
    data["tasks"]["9.7"] = {**data["tasks"]["9.7"], "status": "running", "attempts": 1}
    text = state_text.dumps(data)
    assert text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert [v for v in encoded if v is not data and v.get("tasks") != "\x00tasks\x00"] == [data["tasks"]["9.7"]]


@pytest.mark.parametrize("text", ["\x00tasks\x00", "\x00blocked_tasks\x00", "\x00completed_tasks\x00"])
def test_dumps_is_json_s_text_whatever_the_strings_hold(text: str) -> None:
    """The writer puts parts in at placeholders: a string that looks like one must not move them."""
    data = long_state(3)
    data["completed_tasks"] = [text, "9.1"]
    data["blocked_tasks"] = ["9.2", text]
    data["tasks"]["9.1"] = {**data["tasks"]["9.1"], "error": text}
    assert state_text.dumps(data) == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_dumps_follows_a_record_edited_in_place() -> None:
    data = long_state(3)
    state_text.dumps(data)
    data["tasks"]["9.1"]["checks"].append({"criterion": "c", "status": "passed", "evidence": "e", "metrics": {}})
    data["tasks"]["9.1"]["status"] = "done"
    assert state_text.dumps(data) == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_the_records_a_state_is_read_with_are_frozen_and_own_record_gives_an_editable_one(path: Path) -> None:
    state.save(path, long_state(3))
    loaded = state.load(path)
    assert is_frozen(loaded["tasks"]["9.1"]) and is_frozen(loaded["gates"]["1.1"])
    mine = document.own_record(loaded, "9.1")
    mine["status"] = "running"
    mine["checks"].append({"criterion": "c", "status": "passed", "evidence": "e", "metrics": {}})
    state.save(path, loaded)
    assert json.loads(path.read_text())["tasks"]["9.1"]["status"] == "running"
    assert state.load(path)["tasks"]["9.1"]["checks"][0]["criterion"] == "c"


def test_an_update_marshals_only_the_records_it_changed(path: Path, monkeypatch) -> None:
    """The cost of a transition must not grow with the list: unchanged (frozen, shared) records
    are written from their kept text, not marshalled again to learn that they did not change."""
    state.save(path, long_state(200))
    state.update(path, lambda current: current)  # the cache now holds the file this process wrote
    marshalled = []
    dumps = state_text.marshal.dumps
    monkeypatch.setattr(state_text.marshal, "dumps", lambda value: marshalled.append(value) or dumps(value))

    def start(current: dict) -> dict:
        document.own_record(current, "9.7").update(status="running", attempts=1)
        return current

    state.update(path, start)
    assert len(marshalled) <= 4, f"{len(marshalled)} records marshalled for a change of one of 200"
    assert json.loads(path.read_text())["tasks"]["9.7"]["status"] == "running"


def test_a_state_this_process_wrote_is_read_back_without_parsing(path: Path, monkeypatch) -> None:
    state.save(path, long_state())
    monkeypatch.setattr(state, "parse", lambda *a: pytest.fail("parsed the bytes this process wrote"))
    assert state.load(path) == long_state()
    state.update(path, lambda current: {**current, "consecutive_failures": 1})
    assert state.load(path)["consecutive_failures"] == 1


def test_a_state_another_process_wrote_is_read_from_the_file(path: Path) -> None:
    state.save(path, long_state(3))
    assert state.load(path)["halted"] is not None
    other = long_state(3)
    other["halted"] = None
    other["tasks"]["9.2"]["status"] = "done"
    path.write_text(json.dumps(other))  # another process (or a person) wrote it
    found = state.load(path)
    assert found["halted"] is None and found["tasks"]["9.2"]["status"] == "done"


def test_readers_do_not_see_each_others_changes(path: Path) -> None:
    state.save(path, long_state(3))
    first = state.load(path)
    first["halted"] = None
    first["tasks"]["9.0"] = {**first["tasks"]["9.0"], "status": "done"}
    first["hotfixes"][0]["status"] = "open"
    second = state.load(path)
    assert second == long_state(3)


def test_a_change_that_edits_a_shared_record_in_place_is_refused_and_leaves_no_trace(path: Path) -> None:
    state.save(path, long_state(3))

    def edits_in_place(current: dict) -> dict:
        current["tasks"]["9.1"]["status"] = "done"  # shared with the cache and the last write
        return current

    with pytest.raises(TypeError, match="own_record"):
        state.update(path, edits_in_place)
    assert state.load(path)["tasks"]["9.1"]["status"] == "pending"
    assert json.loads(path.read_text())["tasks"]["9.1"]["status"] == "pending"


def test_a_changed_value_of_another_type_is_checked_even_when_python_calls_it_equal(path: Path) -> None:
    """`0 == False` in Python: a task record whose attempts became false must not pass as unchanged."""
    state.save(path, long_state(3))
    state.load(path)
    broken = json.loads(path.read_text())
    broken["tasks"]["9.1"]["attempts"] = False
    path.write_text(json.dumps(broken))
    with pytest.raises(StateError, match='key "tasks.9.1.attempts": expected an integer >= 0, got false'):
        state.load(path)
