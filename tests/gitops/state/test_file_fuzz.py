"""Property tests: whatever state.json holds, `load` returns a valid state or raises StateError."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops.errors import StateError
from gitops.model import Criterion, Header, Phase, Task, TaskList
from gitops.state import document
from gitops.state import file as state
from gitops.state import parsing

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def valid_state() -> dict:
    """A valid state that touches every part of the schema."""
    tasks = {"1.1": Task("1.1", "Set up", 1, 3, done_when=(Criterion("works", 4),)), "2.1": Task("2.1", "Go", 2, 9)}
    tasklist = TaskList(path="plan.md", title="plan", header=Header(), tasks=tasks, sha256="0" * 64,
                        phases=(Phase(1, "One", 1, ("1.1",)), Phase(2, "Two", 8, ("2.1",))))
    data = document.new_state(tasklist, "t0")
    data["tasks"]["1.1"]["checks"] = [
        {"criterion": "works", "status": "passed", "evidence": "ok", "metrics": {"n": 1}, "approved_by": None}
    ]
    data["gates"] = {"1.1": {"status": "approved", "approved_by": "ana", "at": "t1"}}
    data["hotfixes"] = [{"id": "T-HotFix-1", "task": "1.1", "attempt": 1, "status": "open", "issue": None, "error": "x"}]
    data["resumes"] = [{"reason": "r", "at": "t2", "by": "ana"}]
    data["halted"] = {"reason": "two failures", "at": "t3"}
    return data


VALID = valid_state()
VALID_BYTES = state.dumps(VALID).encode()


def key_paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path into `value` (dict keys and list indexes), excluding the root."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    paths = []
    for key, child in children:
        paths.append(prefix + (key,))
        paths.extend(key_paths(child, prefix + (key,)))
    return paths


PATHS = key_paths(VALID)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check_load(directory: Path, content: bytes) -> None:
    """`load` returns a valid, re-writable state or raises StateError naming the file; never writes."""
    path = directory / "state.json"
    path.write_bytes(content)
    before = path.stat()
    try:
        data = state.load(path)
    except StateError as error:
        assert str(path) in str(error)
    else:
        assert isinstance(data, dict)
        assert parsing.validate(data, str(path)) is data
        copy = directory / "copy.json"
        copy.unlink(missing_ok=True)
        assert state.save(copy, data) is True
        assert state.load(copy) == data
    after = path.stat()
    assert path.read_bytes() == content
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert {p.name for p in directory.iterdir()} <= {"state.json", "copy.json"}


@FUZZ
@given(st.binary(max_size=2000))
def test_load_arbitrary_bytes(workdir: Path, content: bytes) -> None:
    check_load(workdir, content)


@FUZZ
@given(json_values)
def test_load_arbitrary_json(workdir: Path, value: object) -> None:
    check_load(workdir, json.dumps(value).encode())  # NaN and Infinity included, as Python writes them


@FUZZ
@given(st.sampled_from(PATHS), st.booleans(), json_values)
def test_load_mutated_valid_state(workdir: Path, key_path: tuple, delete: bool, replacement: object) -> None:
    data = json.loads(VALID_BYTES)
    *parents, last = key_path
    container = data
    for key in parents:
        container = container[key]
    if delete:
        del container[last]
    else:
        container[last] = replacement
    check_load(workdir, json.dumps(data, indent=2).encode())


@FUZZ
@given(st.integers(min_value=0, max_value=len(VALID_BYTES) - 1), st.binary(max_size=8))
def test_load_truncated_or_garbled_state(workdir: Path, cut: int, garbage: bytes) -> None:
    check_load(workdir, VALID_BYTES[:cut] + garbage)


def test_the_unmodified_state_loads(workdir: Path) -> None:
    check_load(workdir, VALID_BYTES)
    assert state.load(workdir / "state.json") == VALID


_LEAF = st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.floats(allow_nan=False)
_VALUE = st.recursive(_LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                      max_leaves=10)


@given(st.dictionaries(st.text(max_size=6), _VALUE, max_size=4), st.dictionaries(st.text(max_size=4), _VALUE, max_size=4))
def test_dumps_is_json_dumps_byte_for_byte(top: dict, tasks: dict) -> None:
    # dumps keeps each task record's text between writes; the file must not differ for it
    document = {**top, "tasks": tasks}
    assert state.dumps(document) == json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert state.dumps(document) == state.dumps(document)  # the second call comes from the cache


@given(st.dictionaries(st.text(max_size=6), st.lists(st.text(max_size=6), max_size=5) | _VALUE, max_size=4),
       st.dictionaries(st.text(max_size=4), _VALUE, min_size=1, max_size=3))
def test_dumps_of_lists_of_strings_is_json_dumps_byte_for_byte(top: dict, tasks: dict) -> None:
    # completed_tasks and its kind are encoded string by string (quotes, escapes, markers' text)
    document = {**top, "tasks": tasks}
    assert state.dumps(document) == json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
