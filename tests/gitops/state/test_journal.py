"""state.json's journal (gitops.state.journal): a run appends its transitions, state.json is written
whole when the run ends or the journal grows as large, and every reader folds the journal in."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops.errors import StateError
from gitops.state import file as state
from gitops.state import journal
from gitops.state.document import derive
from gitops.state import state_text
from gitops.state.state_text import dumps
from tests.conftest import ROOT
from tests.gitops.state.test_file import full_state, long_state


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state.json"


def start(task_id: str, status: str = "running"):
    def change(current: dict) -> dict:
        current["tasks"][task_id] = {**current["tasks"][task_id], "status": status}
        if status == "done":
            current["completed_tasks"] = [*current["completed_tasks"], task_id]
        return current
    return change


def fresh_reader(path: Path) -> dict | None:
    """What another process reads: its own caches are empty."""
    out = subprocess.run([sys.executable, "-c", "import json, sys; from gitops.state import file; "
                          "print(json.dumps(file.load(sys.argv[1])))", str(path)],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_run_appends_to_the_journal_and_writes_state_json_whole_when_it_ends(path: Path) -> None:
    state.save(path, long_state(50))
    before = path.read_bytes()
    inode = path.stat().st_ino
    with state.journaled(path):
        state.update(path, start("9.1"))
        state.update(path, start("9.1", "done"))
        state.update(path, start("9.2"))
        assert path.read_bytes() == before and path.stat().st_ino == inode  # not rewritten
        lines = journal.path_for(path).read_bytes().splitlines()
        assert len(lines) == 4 and json.loads(lines[0])["base"] == journal.digest(before)
        assert json.loads(lines[2]) == {"tasks": {"9.1": {**long_state(50)["tasks"]["9.1"], "status": "done"}},
                                        "ends": {"completed_tasks": [0, ["9.1"]]}}
        seen = fresh_reader(path)  # another process sees every change, folded in
        assert seen["tasks"]["9.2"]["status"] == "running" and seen["completed_tasks"] == ["9.1"]
    assert not journal.path_for(path).exists()
    written = json.loads(path.read_text())
    assert written == seen and written["tasks"]["9.1"]["status"] == "done"
    assert path.read_text() == dumps(written)


def test_a_transition_appends_what_it_changed_whatever_the_list_s_length(path: Path) -> None:
    sizes = {}
    for count in (100, 1000):
        target = path.with_name(f"s{count}.json")
        state.save(target, long_state(count))
        with state.journaled(target):
            state.update(target, start("9.5"))
            sizes[count] = journal.path_for(target).stat().st_size
    assert sizes[100] == sizes[1000]


def test_a_run_killed_leaves_a_journal_the_next_reader_folds_in_and_the_next_writer_writes_away(path: Path) -> None:
    state.save(path, long_state(20))
    script = ("import os, sys; from gitops.state import file\n"
              "p = sys.argv[1]\n"
              "with file.journaled(p):\n"
              "    for i in range(3):\n"
              "        file.update(p, lambda s, i=i: {**s, 'tasks': {**s['tasks'], f'9.{i}': {**s['tasks'][f'9.{i}'], 'status': 'done'}}})\n"
              "    os._exit(0)  # killed: the run never ends\n")
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert journal.path_for(path).exists()
    assert json.loads(path.read_text())["tasks"]["9.0"]["status"] == "pending"  # state.json as it was
    assert [state.load(path)["tasks"][f"9.{i}"]["status"] for i in range(4)] == ["done", "done", "done", "pending"]
    state.update(path, start("9.3"))  # a command's change: written whole, the journal in it
    assert not journal.path_for(path).exists()
    assert [json.loads(path.read_text())["tasks"][f"9.{i}"]["status"] for i in range(4)] == ["done"] * 3 + ["running"]


def test_a_torn_last_line_is_a_write_that_never_returned_and_the_next_append_cuts_it_off(path: Path) -> None:
    state.save(path, long_state(5))
    with state.journaled(path):
        state.update(path, start("9.1"))
        with journal.path_for(path).open("ab") as handle:
            handle.write(b'{"tasks": {"9.2": {"sta')  # killed in the middle of its write
        state._known.clear()  # as a new process
        assert state.load(path)["tasks"]["9.2"]["status"] == "pending"
        state.update(path, start("9.3"))
        text = journal.path_for(path).read_text()
        assert text.endswith("\n") and len([json.loads(line) for line in text.splitlines()]) == 3
        state._known.clear()
        found = state.load(path)
        assert (found["tasks"]["9.1"]["status"], found["tasks"]["9.3"]["status"]) == ("running", "running")


def test_a_broken_line_is_named_and_nothing_is_written(path: Path) -> None:
    state.save(path, long_state(5))
    with pytest.raises(StateError):
        with state.journaled(path):
            state.update(path, start("9.1"))
            state.update(path, start("9.2"))
            lines = journal.path_for(path).read_bytes().splitlines(keepends=True)
            journal.path_for(path).write_bytes(lines[0] + b'{"tasks": 3}\n' + lines[2])
            before = (path.read_bytes(), journal.path_for(path).read_bytes())
            state._known.clear()
            with pytest.raises(StateError, match=r"state\.json\.journal:2: tasks is not an object of records.*"
                                                 r"move it away to go back to .*state\.json as last written whole"):
                state.update(path, start("9.3"))
            assert (path.read_bytes(), journal.path_for(path).read_bytes()) == before
    assert journal.path_for(path).exists()  # the end of the run could not fold it: it stays


def test_a_journal_is_never_folded_into_a_state_json_someone_replaced(path: Path) -> None:
    state.save(path, long_state(5))
    with pytest.raises(StateError):
        with state.journaled(path):
            state.update(path, start("9.1"))
            other = long_state(5)
            other["halted"] = None
            path.write_text(json.dumps(other))  # git checkout, an editor
            with pytest.raises(StateError, match="continues another state.json than the one there now"):
                state.load(path)


def test_a_journal_already_written_into_state_json_is_passed_over(path: Path) -> None:
    """Killed after state.json was written whole and before the journal was removed."""
    state.save(path, long_state(5))
    with state.journaled(path):
        state.update(path, start("9.1"))
        state.update(path, start("9.1", "done"))
        kept = journal.path_for(path).read_bytes()
    journal.path_for(path).write_bytes(kept)  # as if the end of the run had not removed it
    state._known.clear()
    assert state.load(path) == json.loads(path.read_text())
    state.update(path, start("9.2"))
    assert not journal.path_for(path).exists()


def test_the_journal_is_written_into_state_json_when_it_grows_as_large(path: Path, monkeypatch) -> None:
    monkeypatch.setattr(state, "JOURNAL_MIN", 0)
    state.save(path, long_state(3))
    size = path.stat().st_size
    inodes = set()
    with state.journaled(path):
        for i in range(200):
            state.update(path, lambda s, i=i: {**s, "consecutive_failures": i % 7, "last_updated": f"t{i}"})
            inodes.add(path.stat().st_ino)
            journal_size = journal.path_for(path).stat().st_size if journal.path_for(path).exists() else 0
            assert journal_size < max(size, path.stat().st_size)
    assert len(inodes) > 1  # written whole more than once
    assert json.loads(path.read_text())["last_updated"] == "t199"


def test_a_command_s_change_meanwhile_is_written_whole_and_the_run_sees_it(path: Path) -> None:
    state.save(path, long_state(5))
    with state.journaled(path):
        state.update(path, start("9.1"))
        out = subprocess.run([sys.executable, "-c", "import sys; from gitops.state import file; "
                              "file.update(sys.argv[1], lambda s: {**s, 'paused_by': 'ana'})", str(path)],
                             capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        assert not journal.path_for(path).exists()  # folded and written whole by the other process
        found = state.load(path)
        assert found["paused_by"] == "ana" and found["tasks"]["9.1"]["status"] == "running"
        state.update(path, start("9.2"))
    assert json.loads(path.read_text())["tasks"]["9.2"]["status"] == "running"


def test_a_run_that_fails_still_leaves_state_json_whole(path: Path) -> None:
    state.save(path, long_state(5))
    with pytest.raises(RuntimeError, match="task blew up"):
        with state.journaled(path):
            state.update(path, start("9.1"))
            raise RuntimeError("task blew up")
    assert not journal.path_for(path).exists()
    assert json.loads(path.read_text())["tasks"]["9.1"]["status"] == "running"


def test_delta_tells_json_values_python_calls_equal_apart() -> None:
    before = full_state()
    after = derive(before)
    after["rollback_ready"] = 0  # == False in Python, not in JSON
    after["tasks"]["1.1"] = {**after["tasks"]["1.1"], "attempts": 2.0}
    assert journal.delta(before, before) is None
    assert journal.delta(before, after) == {"set": {"rollback_ready": 0}, "tasks": {"1.1": after["tasks"]["1.1"]}}


# --- folding is exact and idempotent, on random runs of changes -------------------------------

_ids = st.sampled_from([f"9.{i}" for i in range(6)] + ["1.1", "x"])
_edit = st.one_of(
    st.tuples(st.just("record"), _ids, st.sampled_from(["pending", "running", "done", "failed"])),
    st.tuples(st.just("drop"), _ids, st.none()),
    st.tuples(st.just("complete"), _ids, st.none()),
    st.tuples(st.just("uncomplete"), st.none(), st.none()),
    st.tuples(st.just("key"), st.sampled_from(["halted", "paused_by", "new_key"]), st.sampled_from([None, "a", 1, True])),
    st.tuples(st.just("unset"), st.sampled_from(["new_key", "paused_by"]), st.none()),
    st.tuples(st.just("gate"), st.sampled_from(["phase-2", "deploy-9.1"]), st.sampled_from(["pending", "approved"])),
)


def _edited(current: dict, edit: tuple) -> dict:
    new = derive(current)
    kind, name, value = edit
    if kind == "record":
        base = new["tasks"].get(name) or long_state(0)["tasks"]["1.1"]
        new["tasks"][name] = {**base, "status": value}
    elif kind == "drop":
        new["tasks"].pop(name, None)
    elif kind == "complete":
        new["completed_tasks"] = [*new["completed_tasks"], name]
    elif kind == "uncomplete":
        new["completed_tasks"] = new["completed_tasks"][:-1]
    elif kind == "key":
        new[name] = value
    elif kind == "unset":
        new.pop(name, None)
    else:
        new["gates"][name] = {"status": value, "approved_by": None, "at": None}
    return new


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_edit, max_size=25))
def test_folding_the_changes_gives_the_last_state_and_folding_them_again_changes_nothing(edits: list) -> None:
    states = [long_state(6)]
    for edit in edits:
        states.append(_edited(states[-1], edit))
    changes = [c for a, b in zip(states, states[1:]) if (c := journal.delta(a, b)) is not None]
    changes = [json.loads(journal.line(c)) for c in changes]  # through the file's text
    text = journal.header(b"base") + b"".join(journal.line(c) for c in changes)
    read = journal.parse(text, "state.json.journal")
    assert read.base == journal.digest(b"base") and list(read.changes) == changes and read.whole == len(text)
    last = json.loads(json.dumps(states[-1]))
    assert journal.fold(states[0], changes) == last
    assert journal.fold(last, changes) == last  # the settled case: already in state.json


def test_a_journal_that_is_a_link_is_refused(path: Path, tmp_path: Path) -> None:
    state.save(path, long_state(2))
    outside = tmp_path / "elsewhere"
    outside.write_text("")
    os.symlink(outside, journal.path_for(path))
    with pytest.raises(StateError, match="journal"):
        with state.journaled(path):
            state.update(path, start("9.1"))
    assert outside.read_text() == ""


def test_a_reader_that_races_a_whole_write_reads_again_instead_of_refusing(path: Path, monkeypatch) -> None:
    """A lock-free reader reads state.json, a writer then writes it whole and starts a new journal:
    the journal the reader finds continues the new file. It must read again, not cry foul."""
    state.save(path, long_state(5))
    old_bytes = path.read_bytes()
    newer = long_state(5)
    newer["paused_by"] = "ana"
    newer_bytes = state_text.dumps(newer).encode()
    change = {"tasks": {"9.1": {**newer["tasks"]["9.1"], "status": "running"}}}
    read = state._read_state
    calls = []

    def racing(p: Path) -> bytes | None:
        calls.append(p)
        if len(calls) == 1:  # the writer goes between this read and the journal's
            temp = path.with_name("new")
            temp.write_bytes(newer_bytes)
            os.replace(temp, path)
            journal.path_for(path).write_bytes(journal.header(newer_bytes) + journal.line(change))
            return old_bytes
        return read(p)

    state._known.clear()
    monkeypatch.setattr(state, "_read_state", racing)
    found = state.load(path)
    assert len(calls) == 2
    assert found["paused_by"] == "ana" and found["tasks"]["9.1"]["status"] == "running"


def test_a_run_after_a_journal_already_written_into_state_json_starts_a_journal_of_its_own(path: Path) -> None:
    state.save(path, long_state(5))
    with state.journaled(path):
        state.update(path, start("9.1"))
        kept = journal.path_for(path).read_bytes()
    journal.path_for(path).write_bytes(kept)  # killed between the whole write and the removal
    state._known.clear()
    with state.journaled(path):
        state.update(path, start("9.2"))
        assert json.loads(journal.path_for(path).read_bytes().splitlines()[0])["base"] == \
            journal.digest(path.read_bytes())
        state._known.clear()  # another reader, while the run goes on
        found = state.load(path)
        assert (found["tasks"]["9.1"]["status"], found["tasks"]["9.2"]["status"]) == ("running", "running")


def test_a_reader_folds_in_only_the_lines_another_writer_appended_since(path: Path, monkeypatch) -> None:
    state.save(path, long_state(5))
    with state.journaled(path):
        state.update(path, start("9.1"))
        state._known.clear()
        assert state.load(path)["tasks"]["9.2"]["status"] == "pending"  # the reader's view, cached
        record = {**state.load(path)["tasks"]["9.2"], "status": "running"}
        with journal.path_for(path).open("ab") as handle:  # another writer's append
            handle.write(journal.line({"tasks": {"9.2": record}}))
        parsed = []
        parse = journal.parse
        monkeypatch.setattr(journal, "parse", lambda raw, name, start=0: parsed.append(start) or parse(raw, name, start))
        found = state.load(path)
        assert (found["tasks"]["9.1"]["status"], found["tasks"]["9.2"]["status"]) == ("running", "running")
        assert parsed and parsed[0] > 0  # from where it had read to, not from the start
