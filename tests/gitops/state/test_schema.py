"""Tests for gitops/state/state.schema.json and gitops/state/schema.py: the published schema
accepts what gitops writes and rejects what its loader rejects; jsonschema loads only to validate."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from jsonschema import Draft202012Validator

from gitops.state import document
from gitops.state import file as state
from gitops.state.schema import SCHEMA_VERSION, find_problem, schema
from gitops.state.strict_json import find_unwritable
from tests.conftest import ROOT
from tests.gitops.state.test_file import INVALID, NOW, SEED_BLOCK, full_state, make_tasklist, message_of, mutate
from tests.gitops.state.test_file_fuzz import valid_state
from tests.gitops.test_cli import Gitops

SCHEMA_PATH = ROOT / "gitops" / "state" / "state.schema.json"
# What editors and check-jsonschema see: the file alone, with jsonschema's stock Draft 2020-12 rules.
PUBLISHED = Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def test_the_schema_is_a_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(PUBLISHED.schema)
    assert PUBLISHED.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert PUBLISHED.schema["$id"] and PUBLISHED.schema["title"]


def test_the_loader_reads_the_published_file() -> None:
    assert schema() == PUBLISHED.schema


def test_schema_version_is_the_one_gitops_writes() -> None:
    version = PUBLISHED.schema["properties"]["schema_version"]
    assert version["minimum"] == version["maximum"] == SCHEMA_VERSION
    assert document.new_state(make_tasklist(), NOW)["schema_version"] == SCHEMA_VERSION


def test_every_top_level_key_is_described() -> None:
    properties = PUBLISHED.schema["properties"]
    assert set(PUBLISHED.schema["required"]) <= set(properties)
    assert [key for key, spec in properties.items() if not spec.get("description")] == []


def with_extras() -> dict:
    data = full_state()
    data["future"] = {"anything": [1, 2.5, None, True]}
    data["$schema"] = "./gitops/state/state.schema.json"
    data["tasks"]["1.1"]["duration_s"] = 3.5
    data["gates"]["1.1"]["comment"] = "looks good"
    return data


VALID: list[Callable[[], dict]] = [
    full_state,
    valid_state,
    lambda: document.new_state(make_tasklist(), NOW),
    lambda: document.new_state(make_tasklist({**SEED_BLOCK, "owner": "ana", "rollback_ready": True}), NOW),
    with_extras,  # unknown keys are allowed today, at every level
]


@pytest.mark.parametrize("make", VALID)
def test_valid_states_are_valid_for_both(make: Callable[[], dict]) -> None:
    data = make()
    assert find_problem(data) is None
    assert PUBLISHED.is_valid(data), [error.message for error in PUBLISHED.iter_errors(data)]


@pytest.mark.parametrize(("change", "expected"), INVALID)
def test_what_the_loader_rejects_the_published_schema_rejects(change: Callable[[dict], object], expected: str) -> None:
    data = mutate(change)
    assert find_problem(data) is not None
    if find_unwritable(data) is None:
        assert not PUBLISHED.is_valid(data)
    else:  # NaN, a Python set: not JSON at all, so no file (and no JSON Schema) can hold them
        assert "JSON" in expected


def test_only_the_not_json_cases_are_left_to_the_strict_check() -> None:
    assert [expected for change, expected in INVALID if find_unwritable(mutate(change))] == [
        expected for _, expected in INVALID if "not a JSON" in expected
    ]
    assert len([change for change, _ in INVALID if find_unwritable(mutate(change))]) == 2


@pytest.mark.parametrize("data", [
    [1],
    {"schema_version": 1},
    mutate(lambda d: d["tasks"]["1.2"].update(attempts=-1)),
    mutate(lambda d: d.update(rollback_ready="no")),
    mutate(lambda d: d.update(schema_version=0)),
    mutate(lambda d: d["halted"].pop("at")),
    mutate(lambda d: d["tasks"]["1.1"]["checks"][1].update(approved_by=7)),
])
def test_more_invalid_states_are_invalid_for_both(data: object) -> None:
    assert find_problem(data) is not None
    assert not PUBLISHED.is_valid(data)


def test_integers_are_stricter_than_the_published_schema() -> None:
    # JSON Schema counts 1.0 as an integer; gitops never did (docs/state.md).
    data = mutate(lambda d: d["tasks"]["1.1"].update(attempts=1.0))
    assert PUBLISHED.is_valid(data)
    assert message_of(data).startswith('state.json: key "tasks.1.1.attempts": expected an integer >= 0, got 1.0.')


def test_the_first_problem_in_schema_order_is_reported() -> None:
    data = full_state()
    data["tasks"] = {f"9.{n}": {**data["tasks"]["1.1"], "status": f"bad{n}"} for n in range(20, 0, -1)}
    data["rollback_ready"] = 0
    del data["resumes"]
    assert find_problem(data).describe() == 'key "resumes" is missing'  # missing keys first
    data["resumes"] = []
    assert find_problem(data).describe() == 'key "rollback_ready": expected true or false, got 0'  # listed before tasks
    data["rollback_ready"] = False
    # Maps in the document's order, the same on every run (not sorted, not hash order).
    assert find_problem(data).describe().startswith('key "tasks.9.20.status": "bad20" is not one of')


def test_deep_nesting_is_rejected_before_the_validator() -> None:
    deep: list = []
    data = mutate(lambda d: d["test_results"].update(deep=deep))
    for _ in range(100_000):  # deeper than Python's recursion limit
        deep.append([])
        deep = deep[0]
    problem = find_problem(data)
    assert problem.where == "test_results.deep" + "[0]" * 63
    assert problem.describe().endswith(": nested more than 64 levels deep")


def test_a_schema_key_in_the_file_is_kept_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(state.dumps(with_extras()), encoding="utf-8")
    data = state.load(path)
    assert data["$schema"] == "./gitops/state/state.schema.json"
    assert state.save(path, data) is False  # nothing changed: not rewritten


def test_jsonschema_is_imported_only_to_validate() -> None:
    probe = (
        "import sys; import gitops.cli, gitops.state.file, gitops.state.document\n"
        "from gitops.state.schema import find_problem\n"
        "print('jsonschema' in sys.modules, end=' ')\n"
        "find_problem({'schema_version': 1})\n"
        "print('jsonschema' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False True", out.stderr


# --- check-jsonschema on what a real run writes ---------------------------------------------


def check_jsonschema() -> str:
    path = Path(sys.executable).with_name("check-jsonschema")
    if not path.exists():
        pytest.skip("check-jsonschema is not installed in this venv (pip install check-jsonschema)")
    return str(path)


def snapshot(gitops: Gitops, name: str) -> Path:
    copy = gitops.folder.parent / f"{name}.json"
    copy.write_bytes(gitops.state_path.read_bytes())
    return copy


@pytest.mark.slow
def test_check_jsonschema_accepts_what_a_local_run_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = check_jsonschema()
    monkeypatch.setenv("GITOPS_APPROVER", "ada")
    snapshots = []
    for name in ("pipeline", "manual"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        gitops = Gitops(tmp_path / name, f"run_{name}.md")
        if name == "pipeline":
            gitops("run", "--auto-approve", code=1)  # Task 2.1 fails: a HotFix pauses the pipeline
            gitops("retry", "2.1", code=1)  # fails again: halted
            snapshots.append(snapshot(gitops, "halted"))
            gitops("resume", "--reason", "publish.ok was missing")
            (gitops.folder / "publish.ok").write_text("")
            gitops("retry", "2.1")
            gitops("run", "--auto-approve")
        else:
            gitops("run", "--auto-approve")  # stops: Task 1.2 has a manual criterion
            gitops("approve", "1.2", "--by", "grace")
            gitops("run", "--auto-approve")
        snapshots.append(snapshot(gitops, f"{name}-finished"))
    halted, finished, manual = (json.loads(path.read_text()) for path in snapshots)
    assert halted["halted"] and halted["paused_by"] and len(halted["hotfixes"]) == 2
    assert finished["resumes"] and finished["gates"] and finished["current_task"] is None
    assert manual["tasks"]["1.2"]["checks"][0]["approved_by"] == "grace"

    result = subprocess.run([tool, "--schemafile", str(SCHEMA_PATH), *map(str, snapshots)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

    # ... and it does check them: a value gitops would reject fails it too.
    broken = tmp_path / "broken.json"
    broken.write_text(snapshots[1].read_text().replace('"attempts": 3', '"attempts": "3"', 1))
    result = subprocess.run([tool, "--schemafile", str(SCHEMA_PATH), str(broken)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "attempts" in result.stdout, result.stdout + result.stderr
