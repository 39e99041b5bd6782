"""`/gitops retry|resume` comments: parsed strictly, obeyed only from writers, always answered
(issue 11 item 7)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gitops.cli import main
from gitops.github.comment_command import Command, outputs, parse
from gitops.tasklist import parser
from tests.conftest import DATA
from tests.gitops.github.conftest import actions_environ
from tests.gitops.github.test_cli_github import TUNING

TL, _ = parser.load(DATA / "run_pipeline.md")


@pytest.mark.parametrize("body, command", [
    ("/gitops retry 1.2", Command(retry="1.2")),
    ("/gitops retry 1.2\nthe gear is back", Command(retry="1.2")),  # the first line is the command
    ("  /gitops resume gear 7 was missing on the runner  ", Command(resume="gear 7 was missing on the runner")),
    ("/gitops status", Command()),  # plans again; the report job refreshes the progress comment
    ("thanks, looks good", None),
    ("see /gitops retry 1.2 above", None),
])
def test_commands_are_read_from_the_first_line(body, command):
    assert parse(body, TL) == command


@pytest.mark.parametrize("body, reply", [
    ("/gitops retry 9.9", "`/gitops retry` needs a task id of the task list: 1.1, 1.2, 2.1, 2.2."),
    ("/gitops resume", "Unknown command."),
    ("/gitopsretry 1.2", "Unknown command."),
    ("/gitops approve 1.2", "Checkpoints are approved in the waiting run (*Review deployments*)"),
])
def test_what_cannot_run_gets_a_reply_instead(body, reply):
    command = parse(body, TL)
    assert command is not None and command.reply.startswith(reply) and not (command.retry or command.resume)


def test_step_outputs_never_span_lines():
    assert outputs(Command(resume="a\r\nb")) == "retry=\nresume=a b\n"


@pytest.fixture
def comment(api, tmp_path, monkeypatch):
    """An issue_comment event on the progress issue, as the workflow's plan job sees it."""
    (tmp_path / "B-1006.md").write_text((DATA / "run_pipeline.md").read_text())
    monkeypatch.chdir(tmp_path)
    for name, value in {**actions_environ(api, tmp_path), **TUNING}.items():
        monkeypatch.setenv(name, value)
    gh = api.github
    gh.issues[1] = {"id": 1, "number": 1, "title": "b-1006: pipeline progress", "body": "", "state": "open",
                    "state_reason": None, "labels": ["gitops"], "created_at": "", "updated_at": "",
                    "closed_at": None, "user": gh.user("github-actions[bot]")}

    def post(login: str, body: str) -> int:
        comment_id = next(gh.ids)
        gh.comments[comment_id] = {"issue": 1, "body": body, "user": gh.user(login), "created_at": "", "updated_at": ""}
        event = tmp_path / "event.json"
        event.write_text(json.dumps({"comment": {"id": comment_id, "body": body, "user": {"login": login}},
                                     "issue": {"number": 1}}))
        monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
        return comment_id

    return post


def command_line() -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--tasklist", "B-1006.md", "--forge", "github", "comment-command"])
    return result.exit_code, result.output


def test_a_writers_command_becomes_the_plan_jobs_inputs_with_a_thumbs_up(api, comment):
    comment_id = comment("bob", "/gitops retry 1.2")
    assert command_line() == (0, "retry=1.2\nresume=\n")
    assert api.github.reactions[comment_id] == [("github-actions[bot]", "+1")]
    assert len(api.github.comments_on(1)) == 1  # no reply needed


def test_a_reader_is_refused_with_a_reply_and_nothing_runs(api, comment):
    comment_id = comment("carol", "/gitops resume trust me")
    code, output = command_line()
    assert code == 2 and output.startswith("error: the comment is no gitops command that may run: @carol may not run "
                                           "gitops commands here: that needs write access to octo/pipeline (yours: read).")
    assert api.github.reactions[comment_id] == [("github-actions[bot]", "-1")]
    assert api.github.comments_on(1)[-1]["body"] == (
        "@carol may not run gitops commands here: that needs write access to octo/pipeline (yours: read).")


def test_a_command_that_cannot_run_is_answered_and_fails_the_plan_job(api, comment):
    comment("ada", "/gitops approve 1.2")
    code, _ = command_line()
    assert code == 2
    assert api.github.comments_on(1)[-1]["body"].startswith("Checkpoints are approved in the waiting run")
