"""Task 3.2's handler: each check's verdict on recorded comparisons, and one real run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from gitops.handlers import TaskContext
from gitops.model import CheckStatus
from gitops.run.execute import run_handler
from gitops.tasklist import parser
from migration.environments.environment import SetupError, uv_command
from migration.evidence.optimizer_report import DOC, render_table
from migration.tasks import t3_2_enhanced_optimizers as task
from tests.conftest import ROOT


def context(workdir: Path, root: Path = ROOT) -> TaskContext:
    tasklist, _ = parser.load(ROOT / "migration" / "B-1006.md")
    return TaskContext(tasklist.tasks["3.2"], root, workdir, 1, dict(os.environ), {}, lambda message: None)


def outcome(score: float, **extra: Any) -> dict[str, Any]:
    return {
        "ok": True,
        "metrics": {"answer_f1": score, "exact_match": 0.0},
        "metric_calls": 30,
        "optimizer_lm_calls": 3,
        "demos": {"answer": 2},
        "instructions_changed": False,
        "seconds": 1.0,
        **extra,
    }


def side(version: str, optimizers: dict[str, Any], offline: bool = True, base: float = 40.0) -> dict[str, Any]:
    return {
        "dspy_version": version,
        "lm": "openai/x" if not offline else "offline LM",
        "optimizer_lm": "offline LM",
        "budget": 24,
        "offline": offline,
        "train": 14,
        "dev": 18,
        "baseline": {"metrics": {"answer_f1": base, "exact_match": 0.0}},
        "optimizers": optimizers,
    }


def with_record(tmp_path: Path, candidate: dict[str, Any], production: dict[str, Any] | None = None) -> TaskContext:
    production = production or side(
        "2.6.27", {"gepa": {"ok": False, "error": "OptimizerUnavailable: GEPA needs DSPy >= 3.0"}}
    )
    (tmp_path / task.RECORD).write_text(
        json.dumps({"candidate": candidate, "production": production}), encoding="utf-8"
    )
    return context(tmp_path)


ALL = {"bootstrap": outcome(48.0), "gepa": outcome(40.0), "simba": outcome(43.0), "miprov2": outcome(46.0)}


def test_offline_the_improvement_is_recorded_but_skipped(tmp_path: Path) -> None:
    result = task.check_improvement(with_record(tmp_path, side("3.0.1", ALL)))
    assert result.status is CheckStatus.SKIPPED
    assert result.evidence.startswith("not measurable offline: GITOPS_LM is unset")
    assert "best: bootstrap dev answer_f1 48.00 against the baseline's 40.00 (+20.0% relative)" in result.evidence


@pytest.mark.parametrize(
    ("best", "status", "note"),
    [
        (46.0, CheckStatus.PASSED, ""),
        (44.0, CheckStatus.FAILED, ""),
        (52.0, CheckStatus.PASSED, "; above the 25% the task list expected"),
    ],
)
def test_with_a_real_lm_the_best_optimizer_must_gain_fifteen_percent(
    tmp_path: Path, best: float, status: CheckStatus, note: str
) -> None:
    found = side("3.0.1", {**ALL, "bootstrap": outcome(best), "miprov2": outcome(30.0)}, offline=False)
    result = task.check_improvement(with_record(tmp_path, found))
    assert result.status is status
    assert result.evidence.endswith(f"with openai/x; target 15-25%{note}")
    assert result.metrics["improvement_percent"] == round(100 * (best - 40.0) / 40.0, 1)


def test_a_zero_baseline_has_no_relative_improvement(tmp_path: Path) -> None:
    result = task.check_improvement(with_record(tmp_path, side("3.0.1", ALL, offline=False, base=0.0)))
    assert result.status is CheckStatus.FAILED and result.evidence.startswith("the baseline scored 0")


def test_integration_needs_every_optimizer_and_the_gepa_guard(tmp_path: Path) -> None:
    assert task.check_integrated(with_record(tmp_path, side("3.0.1", ALL))).status is CheckStatus.PASSED
    unguarded = side("2.6.27", {"gepa": outcome(40.0)})
    result = task.check_integrated(with_record(tmp_path, side("3.0.1", ALL), unguarded))
    assert result.status is CheckStatus.FAILED and "should raise OptimizerUnavailable" in result.evidence
    broken = {**ALL, "simba": {"ok": False, "error": "ValueError: bsize", "traceback": "tb"}}
    assert task.check_integrated(with_record(tmp_path, side("3.0.1", broken))).evidence.startswith(
        "candidate: simba failed: ValueError"
    )


def test_gepa_must_have_asked_its_reflection_lm(tmp_path: Path) -> None:
    silent = {**ALL, "gepa": outcome(40.0, optimizer_lm_calls=0)}
    result = task.check_new_optimizers(with_record(tmp_path, side("3.0.1", silent)))
    assert result.status is CheckStatus.FAILED and result.evidence.endswith("its reflection_lm was never used")


def test_the_doc_must_hold_this_runs_table(tmp_path: Path) -> None:
    candidate = side("3.0.1", ALL)
    root = tmp_path / "repo"
    (root / DOC).parent.mkdir(parents=True)
    ctx = with_record(tmp_path, candidate)
    ctx = TaskContext(ctx.task, root, tmp_path, 1, {}, {}, lambda message: None)
    (root / DOC).write_text("# Optimizers\n\noptimize( reflection_lm bootstrap gepa simba miprov2\n", encoding="utf-8")
    assert task.check_documented(ctx).status is CheckStatus.FAILED
    (root / DOC).write_text(
        "# Optimizers\n\noptimize( reflection_lm bootstrap gepa simba miprov2\n\n" + render_table(candidate) + "\n",
        encoding="utf-8",
    )
    result = task.check_documented(ctx)
    assert result.status is CheckStatus.PASSED and result.evidence.startswith("docs/optimizers.md:5: the score table")


@pytest.mark.slow
def test_task_3_2_end_to_end(tmp_path: Path) -> None:
    """The action and every check through the engine (docs/optimizers.md is restored afterwards).

    Its table is not compared with the committed one: the assistant answers from docs/*.md, so
    any edit to the documentation moves the scores.
    """
    try:
        uv_command(os.environ)
    except SetupError as exc:
        pytest.skip(str(exc))
    doc = ROOT / DOC
    committed = doc.read_text(encoding="utf-8")
    try:
        result = run_handler(task.HANDLER, context(tmp_path))
        regenerated = doc.read_text(encoding="utf-8")
    finally:
        doc.write_text(committed, encoding="utf-8")
    assert result.error is None, result.error
    statuses = {c["criterion"]: c["status"] for c in result.checks}
    offline = not os.environ.get("GITOPS_LM")
    improvement = "Performance improvement of 15-25% achieved"
    assert {k: v for k, v in statuses.items() if k != improvement} == dict.fromkeys(
        [k for k in statuses if k != improvement], "passed"
    ), result.checks
    assert statuses[improvement] == "skipped" if offline else statuses[improvement] in ("passed", "failed")
    assert render_table(json.loads((tmp_path / task.RECORD).read_text())["candidate"]) in regenerated
    metrics = result.updates["performance_metrics"]
    assert {f"optimizer_{n}_answer_f1" for n in task.OPTIMIZERS} <= set(metrics)
