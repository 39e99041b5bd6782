"""Tasks 1.1 and 1.2 handlers without building environments: criteria matching, the pin, the
documentation check, and how probe reports become evidence."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gitops.handlers import TaskContext, match_checks
from gitops.model import CheckStatus
from gitops.tasklist import parser
from migration.tasks import t1_1_environments as setup_environments
from migration.tasks import t1_2_configure_dspy3 as configure_dspy3
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def tasks():
    tasklist, _ = parser.load(ROOT / "migration" / "B-1006.md")
    return tasklist.tasks


def context(tasks, task_id: str, root: Path) -> TaskContext:
    work = root / ".gitops" / "work" / task_id
    work.mkdir(parents=True, exist_ok=True)
    return TaskContext(tasks[task_id], root, work, 1, {}, {}, lambda message: None)


@pytest.mark.parametrize("task_id, handler", [("1.1", setup_environments.HANDLER), ("1.2", configure_dspy3.HANDLER)])
def test_every_criterion_of_the_task_has_a_check(tasks, task_id, handler):
    paired, unmatched = match_checks(handler, tasks[task_id])
    assert unmatched == [] and None not in paired


def test_pinning_dspy_keeps_every_other_line_of_the_real_constraints(tmp_path):
    constraints = tmp_path / "constraints.txt"
    shutil.copy2(ROOT / "constraints.txt", constraints)
    original = constraints.read_text().splitlines()
    setup_environments.pin_dspy(constraints)
    assert setup_environments.pin_dspy(constraints) is False
    pinned = constraints.read_text().splitlines()
    assert [line for line in pinned if not line.startswith("dspy==")] == [line for line in original if not line.startswith("dspy==")]
    assert pinned.count("dspy==3.0.1") == 1


def test_the_pin_check_cites_the_line(tasks, tmp_path):
    (tmp_path / "constraints.txt").write_text("# pins\nclick==8.5.1\ndspy==3.0.1\n")
    check = setup_environments.check_pinned(context(tasks, "1.1", tmp_path))
    assert (check.status, check.evidence) == (CheckStatus.PASSED, "constraints.txt:3: dspy==3.0.1 (2 pins in the file)")
    (tmp_path / "constraints.txt").write_text("dspy==2.6.27\n")
    check = setup_environments.check_pinned(context(tasks, "1.1", tmp_path))
    assert (check.status, check.evidence) == (CheckStatus.FAILED, "constraints.txt pins dspy==2.6.27; expected dspy==3.0.1")


def test_the_documentation_names_every_command_and_variable(tasks, tmp_path):
    (tmp_path / "docs").mkdir()
    shutil.copy2(ROOT / "docs" / "environments.md", tmp_path / "docs")
    check = setup_environments.check_documented(context(tasks, "1.1", tmp_path))
    assert check.status is CheckStatus.PASSED, check.evidence
    text = (tmp_path / "docs" / "environments.md").read_text().replace("DSPY_CACHEDIR", "the cache variable")
    (tmp_path / "docs" / "environments.md").write_text(text)
    check = setup_environments.check_documented(context(tasks, "1.1", tmp_path))
    assert (check.status, check.evidence) == (CheckStatus.FAILED, "docs/environments.md does not name: DSPY_CACHEDIR")


def write_probes(ctx: TaskContext, **overrides: dict) -> None:
    ok = {"ok": True, "seconds": 0.1, "metric_calls": 11, "budget": 8, "lm_calls": 8, "reflection_calls": 1,
          "answer": "4", "options": ["num_trials"]}
    report = {name: dict(ok) for name in configure_dspy3.OPTIMIZERS}
    report.update(overrides)
    (ctx.workdir / configure_dspy3.REPORT).write_text(json.dumps(report))


def test_a_failed_optimizer_probe_fails_the_criterion_with_its_error(tasks, tmp_path):
    ctx = context(tasks, "1.2", tmp_path)
    write_probes(ctx, simba={"ok": False, "seconds": 0.2, "error": "AssertionError: Trainset too small: 1 < 2",
                             "traceback": "Traceback (most recent call last):\n..."})
    check = configure_dspy3.check_optimizers(ctx)
    assert check.status is CheckStatus.FAILED
    assert check.evidence.startswith("probe simba failed: AssertionError: Trainset too small: 1 < 2\nTraceback")


def test_optimizer_evidence_reports_calls_against_the_budget(tasks, tmp_path):
    ctx = context(tasks, "1.2", tmp_path)
    write_probes(ctx)
    check = configure_dspy3.check_optimizers(ctx)
    assert check.status is CheckStatus.PASSED
    assert check.evidence.splitlines()[0] == (
        "GEPA(max_metric_calls=8, reflection_lm=DummyLM): compiled; 11 metric calls (the budget is soft), "
        "1 reflection LM call(s), 0.1 s"
    )
    assert check.metrics["gepa_metric_calls"] == 11


def test_isolation_counts_modules_from_other_environments_and_the_base_site_packages_as_foreign(tmp_path):
    root = tmp_path.resolve()
    prefix, stdlib = f"{root}/.venvs/candidate", "/opt/python/lib/python3.11"
    files = [f"{prefix}/lib/python3.11/site-packages/dspy/__init__.py", f"{stdlib}/json/__init__.py",
             f"{root}/assistant/lm.py", f"{stdlib}/site-packages/litellm/__init__.py",
             f"{root}/.venvs/production/lib/python3.11/site-packages/dspy/__init__.py",
             f"{root}/.venv/lib/python3.11/site-packages/rich/__init__.py", f"{prefix}2/x.py"]
    seen = {"prefix": prefix, "stdlib": stdlib, "module_files": files}
    assert setup_environments.foreign_files(seen, root) == files[3:]
