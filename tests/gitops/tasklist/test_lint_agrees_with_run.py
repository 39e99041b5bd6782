"""What `gitops run` would refuse or get wrong, `gitops lint` reports first (issue: lint passed,
then run deadlocked, refused the Current State block, or merged a sub-task into its parent)."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gitops.cli import main
from gitops.tasklist.parser import NO_TASKS

TASK_1_1 = "### Task 1.1: First\n**Dependencies**: None\n**Run**: `true`\n\n**Done when**:\n- [ ] ok\n\n"


def lint(folder: Path, text: str) -> tuple[int, list[str]]:
    path = folder / "list.md"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["--tasklist", str(path), "--state", str(folder / "state.json"), "lint"])
    return result.exit_code, [line.removeprefix(f"{path}:") for line in result.output.splitlines() if ": error: " in line]


def test_a_dependency_on_a_later_phase_is_an_error(tmp_path):
    text = ("# A\n\n## Phase 1: One\n\n### Task 1.1: First\n**Dependencies**: Task 2.1\n**Run**: `true`\n\n"
            "**Done when**:\n- [ ] ok\n\n## Phase 2: Two\n\n### Task 2.1: Second\n**Dependencies**: None\n"
            "**Run**: `true`\n\n**Done when**:\n- [ ] ok\n")
    assert lint(tmp_path, text) == (1, [
        "6: error: Task 1.1 (Phase 1) depends on Task 2.1 of a later phase (Phase 2), which starts only after "
        "Phase 1 is done: neither could run. Move Task 1.1 to Phase 2 or later, or drop the dependency"])


def test_a_current_state_block_the_state_schema_refuses_is_an_error(tmp_path):
    text = '# B\n\n## Current State\n```json\n{"rollback_ready": "no"}\n```\n\n## Phase 1: One\n\n' + TASK_1_1
    assert lint(tmp_path, text) == (1, [
        '4: error: Current State block: key "rollback_ready": expected true or false, got "no". '
        "Fix the value in the task list."])


@pytest.mark.parametrize("heading", ["Task 1.1.1: Sub step", "Task ١.٢: Arabic digits"])
def test_a_heading_that_means_a_task_but_is_not_read_as_one_is_an_error(tmp_path, heading):
    text = f"# C\n\n## Phase 1: One\n\n{TASK_1_1}### {heading}\n**Run**: `false`\n"
    assert lint(tmp_path, text) == (1, [
        f"12: error: `{heading}` is not read as a task: a task id is one or two numbers in ASCII digits, "
        "optionally after capital letters, like Task 1.2, Task 3, T-1.1 or A1, and its fields would be read as part of Task 1.1. Give it an id like that, or reword the heading "
        "if it is not a task"])


def test_a_task_without_criteria_runs_as_manual_so_only_strict_lint_refuses_it(tmp_path):
    path = tmp_path / "list.md"
    path.write_text("# D\n\n## Phase 1: One\n\n### T-1.1: First\n**Quality Gates**:\n- [ ] lint clean\n",
                    encoding="utf-8")
    base = ["--tasklist", str(path), "--state", str(tmp_path / "state.json"), "lint"]
    assert CliRunner().invoke(main, base).exit_code == 0
    strict = CliRunner().invoke(main, [*base, "--strict"])
    assert strict.exit_code == 1
    assert (f"{path}:5: error: Task T-1.1 has no **Done when** criteria; add `**Done when**:` followed by "
            "`- [ ]` items that say how to check it") in strict.output


@pytest.mark.parametrize("command", ["lint", "status"])
def test_a_guide_without_tasks_says_what_was_looked_for_and_what_to_do(tmp_path, command):
    path = tmp_path / "guide.md"
    path.write_text("# How we write task lists\n\n## Writing a task\n\nGive it criteria.\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--tasklist", str(path), "--state", str(tmp_path / "state.json"), command])
    assert (result.exit_code, result.output) == (2, f"error: {path}: {NO_TASKS}\n")


def test_a_status_that_cannot_be_read_does_not_stop_a_run_only_strict_lint(tmp_path):
    text = "## Phase 1: One\n\n" + TASK_1_1.replace("**Dependencies**: None", "**Status**: ⏸️ Conditional")
    assert lint(tmp_path, text) == (0, [])
    path = tmp_path / "list.md"
    strict = CliRunner().invoke(main, ["--tasklist", str(path), "--state", str(tmp_path / "state.json"),
                                       "lint", "--strict"])
    assert strict.exit_code == 1
    assert (f"{path}:4: error: Task 1.1: **Status** value '⏸️ Conditional' cannot be read and is left out, "
            "as if not written; write [ ] (to do), [x] (done) or [!] (blocked)") in strict.output
