"""A handler's history commits: recorded in order in its workdir, refused early when they could never be committed."""
from __future__ import annotations

from pathlib import Path

import pytest

from gitops.errors import BadInput
from gitops.run import history_commits
from gitops.run.history_commits import MAX_BYTES, HistoryCommit


def test_versions_are_recorded_in_order_and_cleared_for_the_next_attempt(tmp_path: Path) -> None:
    history_commits.record(tmp_path, "deploy/production.yaml", "a: 1\n", "step 1")
    history_commits.record(tmp_path, "deploy/production.yaml", "x" * MAX_BYTES, "step 2: the largest version")
    assert history_commits.recorded(tmp_path) == (
        HistoryCommit("deploy/production.yaml", "a: 1\n", "step 1"),
        HistoryCommit("deploy/production.yaml", "x" * MAX_BYTES, "step 2: the largest version"))
    history_commits.clear(tmp_path)
    assert history_commits.recorded(tmp_path) == ()


@pytest.mark.parametrize(("path", "content", "message", "problem"), [
    (".gitops/state.json", "{}", "forged", "the path '.gitops/state.json' is not a plain relative path inside the "
                                           "repository (outside .git, .gitops and .github)"),
    ("deploy/p.yaml", "\ud800", "step", "the content of 'deploy/p.yaml' is not text (UTF-8 without NUL characters)"),
    ("deploy/p.yaml", "a: 1\n", " ", "the message of 'deploy/p.yaml' is not text of 1 to 1000 characters"),
])
def test_a_version_that_could_never_be_committed_is_refused_where_it_is_recorded(tmp_path, path, content, message,
                                                                                problem) -> None:
    with pytest.raises(BadInput) as error:
        history_commits.record(tmp_path, path, content, message)
    assert str(error.value) == f"history commit 1 of {tmp_path / history_commits.FILE}: {problem}"
    assert not (tmp_path / history_commits.FILE).exists()


def test_a_malformed_history_file_names_its_line(tmp_path: Path) -> None:
    history_commits.record(tmp_path, "deploy/production.yaml", "a: 1\n", "step 1")
    with (tmp_path / history_commits.FILE).open("a") as out:
        out.write("{not json\n")
    with pytest.raises(BadInput) as error:
        history_commits.recorded(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / history_commits.FILE}:2: not a JSON object (")
