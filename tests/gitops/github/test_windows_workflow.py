"""The scheduled windows workflow: when it is rendered, its triggers, the hand-over between a job
that runs task code without the write token and one that commits, and `render --check` over both files."""
from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from click.testing import CliRunner

from gitops.cli import main
from gitops.github import render, windows_workflow, workflow
from gitops.github.commands import step_text
from gitops.handlers import Registry
from gitops.plan.planner import Step, StepKind
from gitops.tasklist import parser
from tests.conftest import DATA, ROOT
from tests.gitops.builders import task, tasklist

TASKLIST = "migration/B-1006.md"
WINDOWS_FILE = ROOT / ".github" / "workflows" / "b-1006-windows.yml"


@pytest.fixture(scope="module")
def b1006():
    return parser.load(ROOT / TASKLIST)[0]


@pytest.fixture(scope="module")
def doc(b1006) -> dict:
    return yaml.safe_load(render.render_windows(b1006, tasklist_path=TASKLIST, windows=["6.2"]))


def test_b1006_declares_task_6_2_a_window_and_its_workflow_is_committed_in_sync(b1006):
    assert Registry.from_module("migration.handlers").windows == {"6.2"}
    assert windows_workflow.windows_workflow_path(TASKLIST) == ".github/workflows/b-1006-windows.yml"
    assert WINDOWS_FILE.read_text() == render.render_windows(b1006, tasklist_path=TASKLIST, windows=["6.2"])


def test_it_runs_hourly_off_the_hour_and_on_dispatch_one_run_at_a_time(doc):
    assert doc["on"] == {"schedule": [{"cron": "17 * * * *"}], "workflow_dispatch": {}}
    assert doc["permissions"] == {}
    assert doc["concurrency"] == {"group": "gitops-b-1006-windows", "cancel-in-progress": False}
    # A schedule's event has no repository: the default branch is the ref it runs on.
    assert doc["env"]["GITOPS_DEFAULT_BRANCH"] == "${{ github.event.repository.default_branch || github.ref_name }}"


def test_task_code_runs_without_the_write_token_and_a_job_that_runs_none_commits(doc):
    evaluate, record = doc["jobs"]["evaluate"], doc["jobs"]["record"]
    assert evaluate["permissions"] == {"contents": "read"}
    assert [s["run"] for s in evaluate["steps"] if "evaluate-windows" in s.get("run", "")] == [
        "gitops --forge github --tasklist migration/B-1006.md evaluate-windows --hand-over .gitops/windows\n"]
    assert evaluate["steps"][2]["uses"].startswith("actions/cache/restore@")  # saves no venv task code touched
    assert record["permissions"] == {"actions": "write", "contents": "write", "issues": "write"}
    assert record["needs"] == ["evaluate"] and record["if"] == "${{ always() && needs.evaluate.result != 'skipped' }}"
    runs = [s.get("run", "") for s in record["steps"]]
    assert not any("evaluate-windows" in r or "run-task" in r for r in runs)
    assert ('gitops --forge github --tasklist migration/B-1006.md record-windows --from .gitops/windows --outputs '
            '>> "$GITHUB_OUTPUT"\n') in runs
    upload = evaluate["steps"][-1]["with"]["name"]
    assert record["steps"][-3]["with"]["name"] == upload == "gitops-windows-attempt-${{ github.run_attempt }}"


def test_a_job_that_runs_no_task_code_says_first_whether_a_window_is_due(doc):
    due, evaluate = doc["jobs"]["due"], doc["jobs"]["evaluate"]
    assert due["permissions"] == {"contents": "read"} and "environment" not in due
    assert due["outputs"] == {"due": "${{ steps.due.outputs.due }}"}
    assert [s["run"] for s in due["steps"] if "gitops" in s.get("run", "")] == [
        'gitops --forge github --tasklist migration/B-1006.md due-windows --outputs >> "$GITHUB_OUTPUT"\n']
    assert not any("evaluate-windows" in s.get("run", "") or "secrets." in str(s.get("env", {})) for s in due["steps"])
    # The evaluation, and the review it waits for, exist only in a run that found a window ended.
    assert evaluate["needs"] == ["due"] and evaluate["if"] == "${{ needs.due.outputs.due == 'true' }}"


def test_evaluating_a_production_window_is_a_reviewed_deployment_with_the_deploy_key(doc):
    evaluate = doc["jobs"]["evaluate"]
    assert evaluate["environment"] == "production"
    assert evaluate["permissions"] == {"contents": "read"}  # still no write token to the repository
    run = next(s for s in evaluate["steps"] if "evaluate-windows" in s.get("run", ""))
    assert run["env"] == {"GITHUB_TOKEN": "${{ github.token }}",
                          "GITOPS_PRODUCTION_URL": "${{ vars.GITOPS_PRODUCTION_URL }}",
                          "GITOPS_PROMETHEUS_URL": "${{ vars.GITOPS_PROMETHEUS_URL }}",
                          "GITOPS_PRODUCTION_REMOTE": "${{ vars.GITOPS_PRODUCTION_REMOTE }}",
                          "GITOPS_PRODUCTION_BRANCH": "${{ vars.GITOPS_PRODUCTION_BRANCH }}",
                          "GITOPS_PRODUCTION_DEPLOY_KEY": "${{ secrets.GITOPS_PRODUCTION_DEPLOY_KEY }}"}


def test_a_window_outside_production_gets_no_environment_and_no_production_settings():
    tl = tasklist(task("1.1", criteria=1))
    evaluate = windows_workflow.windows_workflow(tl, "small.md", ["1.1"])["jobs"]["evaluate"]
    assert "environment" not in evaluate and evaluate["needs"] == ["due"]
    run = next(s for s in evaluate["steps"] if "evaluate-windows" in s.get("run", ""))
    assert run["env"] == {"GITHUB_TOKEN": "${{ github.token }}"}


def test_the_record_job_runs_after_a_rejected_review_and_is_told_the_evaluate_jobs_result(doc):
    record = doc["jobs"]["record"]
    # A rejected job fails without starting: `failure`, not `skipped`, so the record job runs.
    assert record["if"] == "${{ always() && needs.evaluate.result != 'skipped' }}"
    step = next(s for s in record["steps"] if "record-windows" in s.get("run", ""))
    assert step["env"]["EVALUATE_JOB_RESULT"] == "${{ needs.evaluate.result }}"
    assert "needs." not in step["run"]  # through the environment, never pasted into the script
    assert record["permissions"]["actions"] == "write"  # reads the run's reviews (write includes read)


def test_a_task_that_stopped_waiting_starts_the_main_workflow(doc):
    start = doc["jobs"]["record"]["steps"][-1]
    assert start["if"] == "${{ steps.record.outputs.completed == 'true' }}"
    assert start["env"]["MAIN_WORKFLOW"] == "b-1006.yml"
    assert start["run"] == 'gh workflow run "$MAIN_WORKFLOW" --ref "$GITOPS_DEFAULT_BRANCH"\n'



def test_its_report_shares_the_main_workflows_report_group(doc, b1006):
    main_doc = workflow.workflow(b1006, TASKLIST, Registry.from_module("migration.handlers").ids())
    assert doc["jobs"]["report"]["concurrency"] == main_doc["jobs"]["report"]["concurrency"]


def test_render_writes_and_checks_both_files_and_a_list_without_windows_gets_none(tmp_path, monkeypatch):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    shutil.copy(ROOT / TASKLIST, tmp_path / "B-1006.md")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.gitops]\ntasklist = "B-1006.md"\nhandlers = "migration.handlers"\n')
    target = tmp_path / ".github" / "workflows" / "b-1006-windows.yml"
    wrote = CliRunner().invoke(main, ["render"])
    assert wrote.exit_code == 0, wrote.output
    assert f"{target}: written\n" in wrote.output
    assert CliRunner().invoke(main, ["render", "--check"]).exit_code == 0
    target.write_text(target.read_text().replace("17 * * * *", "0 * * * *"))
    checked = CliRunner().invoke(main, ["render", "--check"])
    assert checked.exit_code == 1
    assert (f"{target}: differs from what `gitops render` writes for B-1006.md; run `gitops --tasklist B-1006.md "
            f"render` and commit {target}") in checked.output

    shutil.copy(DATA / "run_pipeline.md", tmp_path / "run_pipeline.md")
    plain = CliRunner().invoke(main, ["--tasklist", "run_pipeline.md", "render"])
    assert plain.exit_code == 0 and "windows" not in plain.output


def test_the_progress_comment_says_which_workflow_evaluates_the_window():
    step = Step(StepKind.WAITING, "Task 6.2 waits for its window to end at 2026-12-06T10:00:00+00:00; then ...",
                task="6.2", command="gitops evaluate-windows")
    assert step_text("b-1006", None)(step) == (
        "Task 6.2 waits for its window to end at 2026-12-06T10:00:00+00:00. The hourly workflow `b-1006-windows.yml` "
        "evaluates it at its first run after that (scheduled runs can be late); nothing needs a person until then.")


def test_a_dependent_of_a_task_with_a_window_waits_for_a_later_run():
    tl = tasklist(task("1.1", criteria=1), task("1.2", deps=("1.1",), criteria=1))
    doc = workflow.workflow(tl, "small.md", handled=tl.tasks, windows=["1.1"])
    assert doc["jobs"]["task-1-2"]["if"].endswith(" && contains(fromJSON(needs.plan.outputs.done), '1.1') }}")
    plain = workflow.workflow(tl, "small.md", handled=tl.tasks)
    assert "needs.task-1-1.result == 'success'" in plain["jobs"]["task-1-2"]["if"]
