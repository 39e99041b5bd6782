"""`gitops fmt` end to end: --check and --diff change nothing and exit 1 when the file would
change; without them the file is rewritten in place (same permissions), once."""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitops.cli import main
from tests.conftest import DATA, ROOT

FIXTURE = DATA / "dialects" / "letter_ids.md"


def gitops(*args: str, code: int) -> tuple[str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output + result.stderr
    return result.stdout, result.stderr


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.md"
    shutil.copy(FIXTURE, path)
    path.chmod(0o640)
    return path


def test_check_exits_1_and_changes_nothing(plan: Path) -> None:
    out, err = gitops("fmt", "--check", str(plan), code=1)
    assert out == ""
    assert err == f"{plan}: not in the canonical form; `gitops fmt {plan}` rewrites it\n"
    assert plan.read_bytes() == FIXTURE.read_bytes()


def test_diff_prints_the_unified_diff_and_changes_nothing(plan: Path) -> None:
    out, _ = gitops("fmt", "--diff", str(plan), code=1)
    assert out.startswith(f"--- {plan}\n+++ {plan} (gitops fmt)\n@@ -1,10 +1,10 @@\n # Onboarding automation\n \n"
                          "-## Phase 1: Accounts\n+### Phase 1: Accounts\n")
    assert "-### T1 — Grant repository access\n" in out and "+#### Task T1: Grant repository access\n" in out
    assert plan.read_bytes() == FIXTURE.read_bytes()


def test_fmt_writes_the_file_in_place_then_check_passes(plan: Path) -> None:
    _, err = gitops("fmt", str(plan), code=0)
    assert err == f"{plan}: formatted\n"
    assert plan.read_text(encoding="utf-8").startswith("# Onboarding automation\n\n### Phase 1: Accounts\n\n"
                                                       "#### Task A1: Create the directory account\n")
    assert stat.S_IMODE(plan.stat().st_mode) == 0o640
    assert [p.name for p in plan.parent.iterdir()] == ["plan.md"]  # no temporary file left
    _, err = gitops("fmt", "--check", str(plan), code=0)
    assert err == f"{plan}: already in the canonical form\n"
    _, err = gitops("fmt", str(plan), code=0)
    assert err == f"{plan}: unchanged\n"


def test_the_configured_task_list_is_the_default_and_is_canonical(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    _, err = gitops("fmt", "--check", code=0)
    assert err == f"{ROOT / 'migration/B-1006.md'}: already in the canonical form\n"


def test_a_list_with_errors_is_refused_with_exit_2_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "seed.md"
    shutil.copy(DATA / "seed" / "B-1006-seed.md", path)
    _, err = gitops("fmt", str(path), code=2)
    assert err.startswith(f"error: {path}: fmt rewrites only a task list that reads without errors; "
                          f"fix these first (`gitops lint {path}` lists them):\n{path}:")
    assert path.read_bytes() == (DATA / "seed" / "B-1006-seed.md").read_bytes()


def test_a_task_kept_as_written_is_named(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_text("### Phase 1: One\n\n#### Task 1.1: One\n**Done when**:\n- **[x] built**\n", encoding="utf-8")
    _, err = gitops("fmt", "--check", str(path), code=0)
    assert err == (f"{path}: Task 1.1 is kept as written: rewritten, it would not read the same (please report it)\n"
                   f"{path}: already in the canonical form\n")


def test_a_link_is_not_written_through(tmp_path: Path, plan: Path) -> None:
    link = tmp_path / "link.md"
    link.symlink_to(plan)
    _, err = gitops("fmt", str(link), code=2)
    assert err == (f"error: {link}: is a symbolic link; run gitops fmt on the file it points to "
                   f"({os.path.realpath(link)})\n")
    assert link.is_symlink() and plan.read_bytes() == FIXTURE.read_bytes()
