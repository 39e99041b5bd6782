"""Tasks 2.2 and 2.3: registration, and every check run on fixed measurements (no environments needed).

The probe reports in tests/data/compat/ were captured from a real run of
migration/probes/compat.py under dspy 2.6.27 and 3.0.1; the benchmark JSON is synthetic.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gitops.handlers import Registry, TaskContext, match_checks
from gitops.tasklist import parser
from migration.tasks import t2_2_module_compatibility as compat
from migration.tasks import t2_3_performance_benchmarks as perf
from tests.conftest import DATA, ROOT
from tests.migration.evidence.test_bench_compare import MEMORY, PRODUCTION, bench_json, candidate

TASKS, _ = parser.load(ROOT / "migration" / "B-1006.md")
PASSING = {"tests": 3, "passed": 3, "failed": [], "skipped": 0, "messages": {}, "exit_status": 0, "tail": ["3 passed"]}


def context(root: Path, task_id: str) -> TaskContext:
    work = root / ".gitops" / "work" / task_id
    work.mkdir(parents=True, exist_ok=True)
    return TaskContext(TASKS.tasks[task_id], root, work, 1, {}, {}, lambda message: None)


def probes() -> dict[str, Any]:
    return {side: json.loads((DATA / "compat" / f"probe-{side}.json").read_text()) for side in ("production", "candidate")}


def run_checks(ctx: TaskContext) -> dict[str, Any]:
    """Every check of the task's handler, by criterion text up to ' - ' or '('."""
    handler = Registry.from_module("migration.handlers").resolve(ctx.task.id)
    paired, _ = match_checks(handler, ctx.task)
    names = [c.text.replace("**", "").split(" - ")[0].split(" (")[0] for c in ctx.task.done_when]
    return {name: fn(ctx) for name, fn in zip(names, paired, strict=True)}


@pytest.mark.parametrize("task_id", ["2.2", "2.3"])
def test_every_criterion_has_exactly_one_check(task_id: str) -> None:
    handler = Registry.from_module("migration.handlers").resolve(task_id)
    paired, unmatched = match_checks(handler, TASKS.tasks[task_id])
    assert unmatched == [] and None not in paired and len(paired) == len(TASKS.tasks[task_id].done_when)


def test_the_handler_modules_do_not_import_dspy() -> None:
    code = "import sys, migration.tasks.t2_2_module_compatibility, migration.tasks.t2_3_performance_benchmarks; print('dspy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "False"


def test_task_2_2_checks_pass_on_the_captured_reports(tmp_path: Path) -> None:
    ctx = context(tmp_path, "2.2")
    issues = compat.write_record(ctx, probes(), {"production": PASSING, "candidate": PASSING})
    assert {i["severity"] for i in issues} == {"low"}
    assert sum(i["kind"] == "prompt" and "adds `[[ ## completed ## ]]`" in i["detail"] for i in issues) == 4
    found = run_checks(ctx)
    assert {name: check.status.value for name, check in found.items()} == dict.fromkeys(found, "passed")
    assert "29/29 assistant modules imported" in found["All existing DSPy modules import successfully with DSPy 3.0"].evidence
    schema = found["Schema compatibility confirmed"].evidence
    assert "[low] AnswerQuestion: ChatAdapter few-shot prompt: DSPy 3.0.1 adds `[[ ## completed ## ]]`" in schema
    assert "answer_f1 41.81 -> 51.86" in found["Optimization loop components tested"].evidence
    assert "both versions: PNG 700x400" in found["Metrics dashboard compatibility verified"].evidence
    assert "tests/assistant in .venvs/candidate (dspy 3.0.1): 3/3 passed" in found["System integration components validated"].evidence
    assert found["Compatibility issues documented"].metrics == {"issues": len(issues)}


def test_task_2_2_fails_what_broke_under_3_0_1(tmp_path: Path) -> None:
    ctx = context(tmp_path, "2.2")
    measured = probes()
    fields = measured["candidate"]["signatures"]["assistant.signatures.AnswerQuestion"]["result"]["fields"]
    fields[0]["annotation"] = "list[dict]"
    measured["candidate"]["components"]["dashboard"] = {"ok": False, "seconds": 0.1, "error": "ValueError: no PNG"}
    test = "tests.assistant.test_qa::test_x"
    failing = {**PASSING, "passed": 2, "failed": [test], "messages": {test: "boom"}}
    compat.write_record(ctx, measured, {"production": PASSING, "candidate": failing})
    found = run_checks(ctx)
    failed = sorted(name for name, check in found.items() if check.status.value == "failed")
    assert failed == ["Metrics dashboard compatibility verified", "Schema compatibility confirmed",
                      "System integration components validated"]
    assert "[high] AnswerQuestion: `fields[0].annotation` is list[str] under 2.6.27, list[dict] under 3.0.1" \
        in found["Schema compatibility confirmed"].evidence
    assert "FAILED ValueError: no PNG" in found["Metrics dashboard compatibility verified"].evidence
    integration = found["System integration components validated"].evidence
    assert "[high] tests.assistant.test_qa::test_x fails under DSPy 3.0.1 only: boom" in integration


def test_task_2_2_documented_fails_when_the_page_lost_an_issue(tmp_path: Path) -> None:
    ctx = context(tmp_path, "2.2")
    issues = compat.write_record(ctx, probes(), {"production": PASSING, "candidate": PASSING})
    page = tmp_path / "docs" / "compatibility.md"
    page.write_text(page.read_text().replace(issues[-1]["detail"], "(edited)"))
    check = compat.check_documented(ctx)
    assert check.status.value == "failed" and f"misses 1 of {len(issues)} recorded issues" in check.evidence


def write_benchmarks(ctx: TaskContext, production: dict, candidate_run: dict) -> list[dict[str, Any]]:
    for side, report in (("production", production), ("candidate", candidate_run)):
        perf.results_path(ctx, side).write_text(json.dumps(report))
    return perf.write_record(ctx, {"production": production, "candidate": candidate_run})


def test_task_2_3_checks_pass_on_fixed_benchmarks(tmp_path: Path) -> None:
    ctx = context(tmp_path, "2.3")
    rows = write_benchmarks(ctx, bench_json(PRODUCTION, MEMORY, "2.6.27"), candidate(test_docsqa_forward=1.5))
    found = run_checks(ctx)
    assert {name: check.status.value for name, check in found.items()} == dict.fromkeys(found, "passed")
    baseline = found["Performance benchmarks established for current DSPy 2.6.27 system"].evidence
    assert ".venvs/production: dspy 2.6.27; 8 benchmarks" in baseline
    assert "forward: 4.00 ms -> 6.00 ms (x1.50)" in found["DSPy 3.0 performance measured against benchmarks"].evidence
    assert found["Performance regression analysis completed"].evidence.startswith("regressed: forward x1.50\n")
    assert found["Optimization opportunities identified"].metrics == {"opportunities": 4}
    assert found["Performance documentation updated"].metrics == {"rows": len(rows)}


def test_task_2_3_rejects_a_wrong_environment_and_a_stale_page(tmp_path: Path) -> None:
    ctx = context(tmp_path, "2.3")
    write_benchmarks(ctx, bench_json(PRODUCTION, MEMORY, "3.0.1"), candidate())
    assert perf.check_baseline(ctx).status.value == "failed"
    page = tmp_path / "docs" / "performance.md"
    stale = copy.copy(page.read_text()).replace("x1.00", "x0.97")
    page.write_text(stale)
    check = perf.check_documented(ctx)
    assert check.status.value == "failed" and "rows without this run's ratio: ['forward'" in check.evidence


def test_the_probe_runs_modules_with_a_forward_of_their_own() -> None:
    from assistant.qa import DocsQA
    from assistant.validation import BestOfN
    from migration.probes.compat import own_forward

    assert own_forward(DocsQA) and not own_forward(BestOfN)
