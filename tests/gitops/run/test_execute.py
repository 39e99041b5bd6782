"""The handler contract and the **Run** extension: evidence required, exceptions recorded."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitops.handlers import Check, Handler, Registry, RegistryError, TaskContext, match_checks
from gitops.model import Criterion, Task
from gitops.run.execute import run_command, run_handler, run_manual

TASK = Task(
    id="1.1",
    title="Pin it",
    phase=1,
    line=1,
    done_when=(Criterion("**DSPy 3.0.1** pinned in constraints.txt", 1), Criterion("Setup documented", 2)),
)


def context(tmp_path: Path) -> TaskContext:
    return TaskContext(TASK, tmp_path, tmp_path, 1, {}, {}, lambda message: None)


def test_checks_match_criteria_by_the_start_of_their_text_and_the_rest_are_manual(tmp_path):
    handler = Handler(action=lambda ctx: None, checks={"DSPy 3.0.1 pinned": lambda ctx: Check.passed("line 3: dspy==3.0.1")})
    paired, unmatched = match_checks(handler, TASK)
    assert paired[0] is not None and paired[1] is None and unmatched == []
    result = run_handler(handler, context(tmp_path))
    assert [(c["status"], c["evidence"]) for c in result.checks] == [
        ("passed", "line 3: dspy==3.0.1"),
        ("manual", "no automated check: a person signs this off at the checkpoint"),
    ]
    assert not result.failed


def test_an_exception_in_the_action_is_recorded_with_its_traceback(tmp_path):
    def boom(ctx):
        raise ValueError("disk full")

    result = run_handler(Handler(action=boom, checks={}), context(tmp_path))
    assert result.failed
    assert result.error.startswith("the action of Task 1.1 raised:\nTraceback")
    assert result.error.rstrip().endswith("ValueError: disk full")
    assert {c["status"] for c in result.checks} == {"skipped"}


def test_an_exception_in_a_check_fails_that_criterion_only(tmp_path):
    def broken(ctx):
        raise KeyError("x")

    handler = Handler(action=lambda ctx: None, checks={"DSPy": broken, "Setup documented": lambda ctx: Check.passed("README.md §2")})
    result = run_handler(handler, context(tmp_path))
    assert [c["status"] for c in result.checks] == ["failed", "passed"]
    assert "KeyError: 'x'" in result.checks[0]["evidence"]


@pytest.mark.parametrize(
    "returned, message",
    [
        (True, "the check returned True, not a gitops.handlers.Check with evidence"),
        (Check.passed("  "), "the check returned no evidence; a result needs what was measured"),
    ],
)
def test_a_check_without_evidence_fails(tmp_path, returned, message):
    handler = Handler(action=lambda ctx: None, checks={"DSPy": lambda ctx: returned})
    result = run_handler(handler, context(tmp_path))
    assert (result.checks[0]["status"], result.checks[0]["evidence"]) == ("failed", message)


def test_a_check_key_matching_no_criterion_is_a_handler_error(tmp_path):
    handler = Handler(action=lambda ctx: None, checks={"Something else": lambda ctx: Check.passed("x")})
    result = run_handler(handler, context(tmp_path))
    assert result.error == (
        "the handler of Task 1.1 has checks that match no Done-when criterion: 'Something else'. "
        "Make each check key the start of one criterion's text."
    )


def test_actions_may_only_set_the_shared_keys(tmp_path):
    handler = Handler(action=lambda ctx: {"performance_metrics": {"x": 1}, "halted": None}, checks={})
    result = run_handler(handler, context(tmp_path))
    assert "returned state keys it may not set: halted" in result.error


def test_action_updates_are_returned(tmp_path):
    handler = Handler(action=lambda ctx: {"performance_metrics": {"x": 1.5}}, checks={"DSPy": lambda ctx: Check.passed("ok", x=1.5)})
    result = run_handler(handler, context(tmp_path))
    assert result.updates == {"performance_metrics": {"x": 1.5}}
    assert result.checks[0]["metrics"] == {"x": 1.5}


def test_run_command_passes_every_criterion_on_exit_0_and_keeps_the_log(tmp_path):
    task = Task(id="1.1", title="t", phase=1, line=1, run="echo hello; echo warn >&2", done_when=TASK.done_when)
    result = run_command(task, tmp_path, tmp_path / "logs" / "1.1.log", {"PATH": "/usr/bin:/bin"})
    assert [c["status"] for c in result.checks] == ["passed", "passed"]
    assert "hello" in result.checks[0]["evidence"]
    log = (tmp_path / "logs" / "1.1.log").read_text()
    assert "# exit status 0" in log and "warn" in log


def test_run_command_failure_keeps_the_stderr_tail_as_the_error(tmp_path):
    task = Task(id="1.1", title="t", phase=1, line=1, run="for i in $(seq 1 50); do echo line$i >&2; done; exit 4", done_when=TASK.done_when)
    result = run_command(task, tmp_path, tmp_path / "log", {"PATH": "/usr/bin:/bin"})
    assert result.failed
    lines = result.error.splitlines()
    assert lines[0] == f"`{task.run}` exited 4"
    assert lines[1:] == [f"line{i}" for i in range(21, 51)]


def test_run_command_sees_its_task_id_and_runs_in_the_root(tmp_path):
    task = Task(id="3.2", title="t", phase=3, line=1, run='test "$GITOPS_TASK_ID" = 3.2 && test -f marker', done_when=TASK.done_when)
    (tmp_path / "marker").write_text("")
    assert not run_command(task, tmp_path, tmp_path / "log", {"PATH": "/usr/bin:/bin"}).failed


def test_manual_tasks_have_every_criterion_manual():
    result = run_manual(TASK)
    assert [c["status"] for c in result.checks] == ["manual", "manual"]


def test_registry_resolves_lazily_and_rejects_non_handlers():
    registry = Registry({"1.1": "tests.gitops.run.test_execute:TASK"})
    assert registry.ids() == frozenset({"1.1"})
    with pytest.raises(RegistryError, match="is a Task, not a gitops.handlers.Handler"):
        registry.resolve("1.1")


# --- further criteria (Quality Gates, Testing Requirements): in the state with their kind (issue 13)

GATED = Task(
    id="1.2",
    title="Ship it",
    phase=1,
    line=1,
    done_when=(Criterion("Release built", 1),),
    further_criteria=(Criterion("Coverage at least 80%", 3, kind="quality_gates"),
                      Criterion("Integration tests pass", 5, kind="testing_requirements")),
)


def test_further_criteria_are_recorded_with_their_kind_and_proven_only_by_a_check_of_their_own(tmp_path):
    handler = Handler(action=lambda ctx: None, checks={
        "Release built": lambda ctx: Check.passed("dist/app.whl, 12 KB"),
        "Coverage at least": lambda ctx: Check.failed("coverage 61% (report: coverage.xml)", coverage=61),
    })
    assert match_checks(handler, GATED)[1] == []  # a key for a further criterion is not an error
    ctx = TaskContext(GATED, tmp_path, tmp_path, 1, {}, {}, lambda message: None)
    result = run_handler(handler, ctx)
    assert [(c["criterion"], c["status"], c.get("kind")) for c in result.checks] == [
        ("Release built", "passed", None),
        ("Coverage at least 80%", "failed", "quality_gates"),
        ("Integration tests pass", "skipped", "testing_requirements"),
    ]
    assert result.checks[2]["evidence"] == "not checked: no check of the handler matches this further criterion"
    assert result.failed  # the handler checked the quality gate, and it failed


def test_a_run_command_proves_the_done_when_criteria_only(tmp_path):
    task = Task(**{**GATED.__dict__, "run": "true"})
    result = run_command(task, tmp_path, tmp_path / "log.txt", {})
    assert [(c["status"], c.get("kind")) for c in result.checks] == [
        ("passed", None), ("skipped", "quality_gates"), ("skipped", "testing_requirements")]
    assert not result.failed


def test_a_manual_task_hands_its_further_criteria_to_the_person_too():
    assert [(c["status"], c.get("kind")) for c in run_manual(GATED).checks] == [
        ("manual", None), ("manual", "quality_gates"), ("manual", "testing_requirements")]
