"""migration.evidence.bench_compare and perf_report on fixed pytest-benchmark JSON: ratios, verdicts, derived text."""
from __future__ import annotations

from typing import Any

import pytest

from migration.evidence import bench_compare, perf_report
from migration.evidence.bench_compare import MEASURES, analysis, compare, metrics, opportunities, show, verdict

# Per test: (median seconds, min seconds); memory tests carry their numbers in extra_info.
PRODUCTION = {"test_docsqa_forward": 0.004, "test_adapter_format": 0.0002, "test_adapter_parse": 0.00001,
              "test_retrieval": 0.002, "test_module_call": 0.000006, "test_module_call_deep": 0.000015,
              "test_import_dspy": 3.0, "test_peak_memory": 8.0}
MEMORY = {"peak_rss_kib": 200_000, "rss_after_import_kib": 200_000, "traced_peak_kib": 600.0,
          "litellm_share_of_dspy": 0.8}


def bench_json(times: dict[str, float], memory: dict[str, float], version: str, deep: dict[str, Any] | None = None) -> dict:
    """A pytest-benchmark JSON with the fields bench_compare reads."""
    benchmarks = []
    for name, seconds in times.items():
        extra: dict[str, Any] = {"dspy_version": version}
        if name == "test_peak_memory":
            extra.update(memory)
        if name == "test_module_call_deep":
            extra.update(deep or {})
        stats = {"median": seconds, "min": seconds * 0.9, "iqr": seconds * 0.05, "rounds": 20}
        benchmarks.append({"name": name, "stats": stats, "extra_info": extra})
    return {"benchmarks": benchmarks, "datetime": f"2026-11-24T00:00:0{len(version)}+00:00"}


def candidate(**scale: float) -> dict:
    times = {name: value * scale.get(name, 1.0) for name, value in PRODUCTION.items()}
    deep = {"profile_top": ["inspect.py:973(getmodule)", "~:0(<built-in method builtins.hasattr>)"],
            "deep_frames": 100, "modules_loaded": 3000}
    return bench_json(times, {**MEMORY, "peak_rss_kib": 210_000}, "3.0.1", deep)


def test_ratios_use_the_median_the_min_for_imports_and_kib_for_memory() -> None:
    rows = {r["key"]: r for r in compare(bench_json(PRODUCTION, MEMORY, "2.6.27"),
                                         candidate(test_docsqa_forward=2.0, test_import_dspy=0.5))}
    assert [r for r in rows] == [m.key for m in MEASURES]
    assert rows["forward"]["ratio"] == 2.0 and rows["forward"]["verdict"] == "regressed"
    assert rows["import_dspy"]["production"] == pytest.approx(2.7) and rows["import_dspy"]["verdict"] == "improved"
    assert rows["peak_rss"]["ratio"] == 1.05 and rows["peak_rss"]["verdict"] == "unchanged"
    assert rows["forward"]["noise"] == {"production": 0.05, "candidate": 0.05}
    assert rows["peak_rss"]["noise"] == {"production": None, "candidate": None}


def test_metrics_put_units_in_the_keys() -> None:
    found = metrics(compare(bench_json(PRODUCTION, MEMORY, "2.6.27"), candidate()))
    assert found["bench_forward_ratio"] == 1.0
    assert found["bench_peak_rss_production_kib"] == 200_000 and found["bench_import_dspy_candidate_s"] == pytest.approx(2.7)
    assert len(found) == 3 * len(MEASURES)


def test_verdict_thresholds() -> None:
    assert [verdict(r) for r in (1.11, 1.10, 0.90, 0.89)] == ["regressed", "unchanged", "unchanged", "improved"]


def test_a_drifting_control_widens_the_threshold() -> None:
    rows = {r["key"]: r for r in compare(bench_json(PRODUCTION, MEMORY, "2.6.27"),
                                         candidate(test_retrieval=0.75, test_adapter_format=1.2, test_docsqa_forward=1.3))}
    assert rows["retrieval"]["verdict"] == "control" and rows["forward"]["threshold"] == 0.25
    assert (rows["adapter_format"]["verdict"], rows["forward"]["verdict"]) == ("unchanged", "regressed")


def test_analysis_lists_every_measure_once() -> None:
    rows = compare(bench_json(PRODUCTION, MEMORY, "2.6.27"), candidate(test_docsqa_forward=3.0, test_adapter_parse=0.5))
    found = analysis(rows)
    assert found["regressed"] == ["forward"] and found["improved"] == ["adapter_parse"] and found["control"] == ["retrieval"]
    assert sorted(sum(found.values(), [])) == sorted(m.key for m in MEASURES)


def test_opportunities_are_computed_from_the_candidate_numbers() -> None:
    rows = compare(bench_json(PRODUCTION, MEMORY, "2.6.27"), candidate())
    ideas = opportunities(rows, candidate())
    assert ideas[0] == ("DocsQA forward takes 4.00 ms per question under DSPy 3.0.1: retrieval 2.00 ms (50%); everything "
                        "else (module calls, the LM call path, validation) 1.79 ms (45%); ChatAdapter format + "
                        "parse 210.0 us (5%). The largest share, retrieval, is where making one call faster pays most.")
    assert "`import dspy` costs 2.70 s, as much as 675 forward calls; litellm is 80% of it" in ideas[1]
    assert ideas[2].startswith("Peak RSS is 205.1 MiB, 95% of it reached by the imports alone")
    assert not any("regression" in idea for idea in ideas)


def test_a_module_call_regression_is_explained_from_its_profile() -> None:
    slow = candidate(test_module_call=2000.0, test_module_call_deep=900.0)
    ideas = opportunities(compare(bench_json(PRODUCTION, MEMORY, "2.6.27"), slow), slow)
    assert ideas[0].startswith("The largest regression is bare dspy.Module call (no LM): x2000.00 (6.0 us -> 12.00 ms)")
    assert "cProfile of the deep call under 3.0.1, most own time first: inspect.py:973(getmodule)" in ideas[1]
    assert "stanfordnlp/dspy#8380" in ideas[1]


def test_the_inspect_explanation_needs_inspect_in_the_profile() -> None:
    slow = candidate(test_module_call=3.0)
    slow["benchmarks"][5]["extra_info"]["profile_top"] = ["module.py:64(__call__)"]
    ideas = opportunities(compare(bench_json(PRODUCTION, MEMORY, "2.6.27"), slow), slow)
    assert "module.py:64(__call__)" in ideas[1] and "inspect.stack" not in ideas[1]


def test_a_missing_benchmark_is_named() -> None:
    broken = candidate()
    broken["benchmarks"] = [b for b in broken["benchmarks"] if b["name"] != "test_retrieval"]
    with pytest.raises(KeyError, match="test_retrieval"):
        compare(bench_json(PRODUCTION, MEMORY, "2.6.27"), broken)


def test_show_picks_a_readable_unit() -> None:
    assert [show(v, "s") for v in (2.5, 0.0042, 0.0000068)] == ["2.50 s", "4.20 ms", "6.8 us"]
    assert [show(v, "KiB") for v in (512, 2048)] == ["512 KiB", "2.0 MiB"]


def test_the_page_holds_the_table_the_analysis_and_the_control_drift() -> None:
    production = bench_json(PRODUCTION, MEMORY, "2.6.27")
    drifted = candidate(test_retrieval=1.3, test_docsqa_forward=1.5)
    rows = compare(production, drifted)
    page = perf_report.render(rows, analysis(rows), opportunities(rows, drifted), {"production": "2.6.27", "candidate": "3.0.1"},
                              {"production": "T1", "candidate": "T2"}, {"import_dspy": 3})
    assert "| DocsQA forward over ExtractiveLM (one question) | median | 4.00 ms | 6.00 ms | x1.50 | regressed | 5% / 5% |" in page
    assert "- Regressed (ratio > 1.30): DocsQA forward over ExtractiveLM (one question) (x1.50)\n" in page
    assert "moved by 30% (x1.30) although it runs no dspy code" in page
    assert page.count("| ") >= len(MEASURES) + 2 and "(dspy 2.6.27, T1)" in page
    assert bench_compare.CONTROL == "retrieval"
