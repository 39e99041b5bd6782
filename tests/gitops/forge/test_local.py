"""LocalForge: readable Markdown files, idempotent by marker."""
from __future__ import annotations

from gitops.forge.local import LocalForge


def test_an_issue_is_opened_once_updated_in_place_and_closed_once(tmp_path):
    forge = LocalForge(tmp_path)
    path = forge.open_issue("hotfix:2.1", "T-HotFix-1 Fix it", "body one", ["hotfix", "task:2.1"])
    assert forge.open_issue("hotfix:2.1", "T-HotFix-2 Fix it", "body two", ["hotfix", "task:2.1"]) == path
    assert len(list((tmp_path / "issues").iterdir())) == 1
    text = open(path).read()
    assert text.startswith("# T-HotFix-2 Fix it\n\n**State**: open\n**Labels**: hotfix, task:2.1\n")
    assert "<!-- gitops:hotfix:2.1 -->\nbody two\n" in text and "body one" not in text
    forge.close_issue("hotfix:2.1", "passed on attempt 3")
    forge.close_issue("hotfix:2.1", "passed on attempt 3")
    text = open(path).read()
    assert forge.issue_state("hotfix:2.1") == "closed"
    assert text.count("passed on attempt 3") == 1


def test_reopening_keeps_the_comments(tmp_path):
    forge = LocalForge(tmp_path)
    forge.open_issue("hotfix:1.1", "t", "b", [])
    forge.close_issue("hotfix:1.1", "fixed once")
    forge.open_issue("hotfix:1.1", "t", "b2", [])
    assert forge.issue_state("hotfix:1.1") == "open"
    assert "fixed once" in (tmp_path / "issues" / "hotfix-1.1.md").read_text()


def test_comments_are_upserted_and_unchanged_writes_leave_the_file_alone(tmp_path):
    forge = LocalForge(tmp_path)
    path = forge.upsert_comment("phase:1", "one")
    mtime = (tmp_path / "comments" / "phase-1.md").stat().st_mtime_ns
    forge.upsert_comment("phase:1", "one")
    assert (tmp_path / "comments" / "phase-1.md").stat().st_mtime_ns == mtime
    forge.upsert_comment("phase:1", "two")
    assert open(path).read() == "<!-- gitops:phase:1 -->\ntwo\n"


def test_closing_an_unknown_issue_does_nothing(tmp_path):
    forge = LocalForge(tmp_path)
    forge.close_issue("hotfix:9.9", "x")
    assert forge.issue_state("hotfix:9.9") is None
    assert not (tmp_path / "issues").exists()
