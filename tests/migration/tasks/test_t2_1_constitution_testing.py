"""Task 2.1's handler: its checks one by one on recorded data, then one real run on this repository
with its outputs in a temporary working folder."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitops.handlers import Registry, TaskContext, match_checks
from gitops.run.execute import run_handler
from gitops.tasklist import parser
from migration.constitution import pytest_plugin
from migration.constitution.overhead import read_benchmark
from migration.handlers import HANDLERS
from migration.tasks import t2_1_constitution_testing as task
from tests.conftest import ROOT

TASKLIST, _ = parser.load(ROOT / "migration" / "B-1006.md")


def context(workdir: Path, root: Path = ROOT) -> TaskContext:
    workdir.mkdir(parents=True, exist_ok=True)
    return TaskContext(TASKLIST.tasks["2.1"], root, workdir, 1, {}, {}, lambda message: None)


def test_registered_and_every_criterion_has_a_check() -> None:
    handler = Registry(HANDLERS).resolve("2.1")
    paired, unmatched = match_checks(handler, TASKLIST.tasks["2.1"])
    assert handler is task.HANDLER and unmatched == [] and None not in paired


def bench(variant: str, block: int, best: float, median: float) -> dict[str, Any]:
    return {"extra_info": {"variant": variant, "block": block, "questions": 8}, "options": {"timer": "process_time"},
            "stats": {"min": best, "median": median, "rounds": 10}}


def test_the_overhead_is_the_median_of_paired_block_ratios(tmp_path: Path) -> None:
    plain = [0.0300, 0.0300, 0.0300, 0.0300]
    mine = [0.0309, 0.0312, 0.0240, 0.0315]  # +3%, +4%, -20% (a burst of load), +5%
    rows = [bench(v, b + 1, best, 0.04) for b in range(4)
            for v, best in (("plain", plain[b]), ("dspy-callback", 0.0306), ("constitution", mine[b]))]
    (tmp_path / "b.json").write_text(json.dumps({"benchmarks": rows}), encoding="utf-8")
    found = read_benchmark(tmp_path / "b.json")
    assert found["blocks_percent"] == [3.0, 4.0, -20.0, 5.0]
    # Halves: median(3, 4) = 3.5 against median(-20, 5) = -7.5: too few blocks to outvote a burst.
    assert (found["overhead_percent"], found["noise_percent"], found["dspy_callback_percent"]) == (3.5, 11.0, 2.0)
    assert found["variants"]["plain"] == {"min_ms": 30.0, "median_ms": 40.0, "blocks": 4, "rounds": 40}


def recorded(workdir: Path, overhead: dict[str, Any]) -> TaskContext:
    ctx = context(workdir)
    (workdir / task.REPORT).write_text(json.dumps({"overhead": overhead, "runs": {}}), encoding="utf-8")
    return ctx


def test_a_noisy_measurement_cannot_pass(tmp_path: Path) -> None:
    variants = {v: {"min_ms": 30.0, "median_ms": 31.0, "blocks": 8, "rounds": 48}
                for v in ("plain", "dspy-callback", "constitution")}
    found = {"variants": variants, "overhead_percent": 1.0, "blocks_percent": [1.0] * 8, "dspy_callback_percent": 0.5,
             "noise_percent": 7.5, "questions": 8, "timer": "process_time"}
    check = task.check_overhead(recorded(tmp_path, found))
    assert check.status.value == "failed" and "run the task again on a quieter machine" in check.evidence
    check = task.check_overhead(recorded(tmp_path, {**found, "noise_percent": 1.5}))
    assert check.status.value == "passed" and check.metrics["overhead_percent"] == 1.0


def test_the_documentation_check_names_what_is_missing(tmp_path: Path) -> None:
    ctx = context(tmp_path / "work", root=tmp_path)
    assert "docs/constitution.md does not exist" in task.check_documented(ctx).evidence
    (tmp_path / "docs").mkdir()
    text = (ROOT / task.DOC).read_text(encoding="utf-8").replace("| P3 | No force-push |", "| P3 | |")
    (tmp_path / task.DOC).write_text(text.replace(pytest_plugin.EXEMPT_MARKER, "exempt"), encoding="utf-8")
    check = task.check_documented(ctx)
    assert check.status.value == "failed"
    assert check.evidence == "docs/constitution.md does not name: constitution_exempt, article P3 with its title"


def test_the_conftest_imports_every_plugin_hook() -> None:
    hooks = sorted(name for name in dir(pytest_plugin) if name.startswith("pytest_"))
    assert task.conftest_hooks(ROOT) == hooks


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict], Path]:
    """Run the registered handler as the runner does, outputs in a temporary working folder."""
    workdir = tmp_path_factory.mktemp("work") / "2.1"
    result = run_handler(Registry(HANDLERS).resolve("2.1"), context(workdir))
    assert result.error is None, result.error
    return {c["criterion"].split(" (")[0]: c for c in result.checks}, workdir


@pytest.mark.slow
def test_the_real_run_passes_its_functional_checks(outcome) -> None:
    checks, _ = outcome
    for name in ("Constitution-aware testing integrated with existing test infrastructure",
                 "Constitution compliance validation operational",
                 "Existing test suites enhanced with constitution-aware checks",
                 "Constitution test suite green with all articles validated",
                 "Constitution testing integration documented"):
        assert checks[name]["status"] == "passed", checks[name]["evidence"]
    assert "output -> O1, O3" in checks["Constitution compliance validation operational"]["evidence"]
    suite = checks["Constitution test suite green with all articles validated"]["evidence"]
    assert "passing cases per article (compliant/violating): O1 " in suite


@pytest.mark.slow
def test_the_real_run_measures_the_overhead(outcome) -> None:
    checks, workdir = outcome
    check = checks["Performance impact minimal"]  # passed or failed: it reports a measurement, not a verdict on time here
    assert {"overhead_percent", "noise_percent", "dspy_callback_percent"} <= check["metrics"].keys()
    assert "pytest-benchmark, timer process_time, GC off, 80 rounds per variant in 8 interleaved blocks" in check["evidence"]
    saved = json.loads((workdir / task.REPORT).read_text(encoding="utf-8"))
    assert saved["guard"]["violations"] == [] and saved["guard"]["operations"] >= 3
