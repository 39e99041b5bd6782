"""The Task 3.2 score table and its place in docs/optimizers.md."""

from __future__ import annotations

from typing import Any

from migration.evidence.optimizer_report import BEGIN, END, render_table, replace_section


def outcome(score: float, calls: int = 10, demos: int = 0) -> dict[str, Any]:
    return {
        "ok": True,
        "metrics": {"answer_f1": score, "exact_match": 0.0},
        "metric_calls": calls,
        "demos": {"answer": demos},
    }


CANDIDATE: dict[str, Any] = {
    "dspy_version": "3.0.1",
    "lm": "offline LM",
    "optimizer_lm": "offline LM",
    "train": 14,
    "dev": 18,
    "budget": 24,
    "offline": True,
    "baseline": {"metrics": {"answer_f1": 40.0, "exact_match": 0.0}},
    "optimizers": {
        "bootstrap": outcome(50.0, 7, 4),
        "gepa": {"ok": False, "error": "OptimizerUnavailable: no\nmore"},
        "simba": outcome(40.0),
        "workflow": outcome(99.0),
    },
}


def test_the_table_lists_the_baseline_then_each_optimizer_that_ran() -> None:
    table = render_table(CANDIDATE)
    rows = [line for line in table.splitlines() if line.startswith("| ") and "Program" not in line]
    assert rows == [
        "| unoptimized (baseline) | 40.00 | | 0.00 | | |",
        "| BootstrapFewShot | 50.00 | +10.00 (+25.0%) | 0.00 | 7 | 4 |",
        "| GEPA | failed: OptimizerUnavailable: no | | | | |",
        "| SIMBA | 40.00 | +0.00 (+0.0%) | 0.00 | 10 | 0 |",
    ]
    assert table.startswith("DSPy 3.0.1; task LM: offline LM;")
    assert table.endswith("these differences measure that heuristic, not better prompts.")


def test_a_real_lm_is_named_instead_of_the_offline_caveat() -> None:
    assert render_table({**CANDIDATE, "offline": False, "lm": "openai/gpt-4o-mini"}).endswith(
        "Measured with openai/gpt-4o-mini."
    )


def test_the_section_is_appended_once_then_replaced_in_place() -> None:
    first = replace_section("# Doc\n\nText.\n", "table one")
    assert first == f"# Doc\n\nText.\n\n{BEGIN}\ntable one\n{END}\n"
    second = replace_section(first + "After.\n", "table two")
    assert second == f"# Doc\n\nText.\n\n{BEGIN}\ntable two\n{END}\nAfter.\n"
    assert replace_section(second, "table two") == second
