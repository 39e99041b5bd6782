"""gitops/github/job_summary.py: workflow-command escaping, annotations at the criterion's line, the job summary."""
from __future__ import annotations

import io

import pytest

from gitops.github.job_summary import (
    annotation,
    append_summary,
    command,
    escape_data,
    escape_property,
    report_failure,
    report_task,
)
from tests.gitops.builders import task, tasklist


def test_messages_escape_percent_and_line_breaks():
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"


def test_properties_also_escape_colon_and_comma():
    assert escape_property("C:\\a,b%\n") == "C%3A\\a%2Cb%25%0A"


def test_an_error_annotation_names_file_and_line():
    line = annotation("error", "2 of 3 failed:\nsee log", file="migration/B-1006.md", line=42,
                      title="Task 2.1, attempt 1")
    assert line == "::error file=migration/B-1006.md,line=42,title=Task 2.1%2C attempt 1::2 of 3 failed:%0Asee log"


def test_a_command_without_properties_has_no_space():
    assert command("warning", "careful") == "::warning::careful"


def test_an_unknown_level_is_refused():
    with pytest.raises(ValueError, match="error, warning or notice"):
        annotation("fatal", "x")


def test_the_summary_is_appended_to_and_redacted(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("# before\n\n")
    environ = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_TOKEN": "tok-abcdef"}
    assert append_summary(environ, "used tok-abcdef and ghp_" + "x" * 36)
    assert summary.read_text() == "# before\n\nused *** and ***\n\n"


def test_outside_a_job_there_is_no_summary():
    assert append_summary({}, "text") is False


def test_a_failed_task_prints_one_error_per_failed_check_at_its_criterion(tmp_path):
    tl = tasklist(task("1.1", criteria=2))
    checks = [
        {"criterion": "criterion 1 of 1.1", "status": "failed", "evidence": "exit 1:\nno such file"},
        {"criterion": "criterion 2 of 1.1", "status": "passed", "evidence": "ok"},
    ]
    summary = tmp_path / "summary.md"
    out = io.StringIO()
    report_task({"GITHUB_STEP_SUMMARY": str(summary)}, tl, "1.1", checks, "Traceback: boom", out)
    # The criterion's line is 1 in built task lists; the message keeps its colons (only properties escape them).
    assert out.getvalue() == (
        "::error file=test.md,line=1,title=Task 1.1 failed::criterion 1 of 1.1: exit 1: no such file\n")
    text = summary.read_text()
    assert text.startswith("### ❌ Task 1.1: Do 1.1\n")
    assert "| criterion 1 of 1.1 | failed | exit 1: no such file |" in text
    assert "Traceback: boom" in text


def test_a_failed_notification_is_a_warning_and_a_summary_note(tmp_path):
    summary = tmp_path / "summary.md"
    out = io.StringIO()
    environ = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    report_failure(environ, "gitops could not update GitHub (opening issue hotfix:1.1)", "HTTP 502\nretry later", out)
    assert out.getvalue() == (
        "::warning title=gitops could not update GitHub (opening issue hotfix%3A1.1)::HTTP 502%0Aretry later\n"
    )
    assert summary.read_text() == (
        "> [!WARNING]\n> **gitops could not update GitHub (opening issue hotfix:1.1)**: HTTP 502 retry later\n\n"
    )


def test_a_hostile_title_and_error_stay_text_in_the_summary(tmp_path):
    """Issue 12 item 7: ``` in the error cannot end its block, nor `</details>` the element, nor `|` a row."""
    summary = tmp_path / "summary.md"
    tl = tasklist(task("1.1", criteria=1, title="Ship | it @ops <i>"))
    checks = [{"criterion": "criterion 1 of 1.1", "status": "failed", "evidence": "a | b @ada"}]
    error = "boom\n```\n</details>\n# Pwned @octocat"
    report_task({"GITHUB_STEP_SUMMARY": str(summary)}, tl, "1.1", checks, error, stream=io.StringIO())
    z = "\u200b"
    assert summary.read_text() == (
        f"### ❌ Task 1.1: Ship | it @{z}ops &lt;i&gt;\n\n| Criterion | Result | Evidence |\n|---|---|---|\n"
        f"| criterion 1 of 1.1 | failed | a \\| b @{z}ada |\n\n"
        "<details><summary>Error</summary>\n\n````text\nboom\n```\n</details>\n# Pwned @octocat\n````\n</details>\n\n"
    )
