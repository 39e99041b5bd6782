"""migration.evidence.compat_diff on fixed probe reports: every difference becomes one issue of the right severity."""
from __future__ import annotations

import copy
from typing import Any

from migration.evidence.compat_diff import (
    changed_leaves,
    compare,
    counts,
    flatten,
    format_only,
    import_issues,
    outcome_issues,
    part_issues,
    result_issues,
    suite_issues,
)

SYSTEM = {"role": "system", "content": "Your input fields are:\n1. `question` (str)"}
DEMO_USER = {"role": "user", "content": "[[ ## question ## ]]\nWhat is 1+1?"}
FINAL = {"role": "user", "content": "[[ ## question ## ]]\nWhat is 2+2?"}


def demo_reply(marker: str | None) -> dict[str, str]:
    body = "[[ ## answer ## ]]\n2"
    return {"role": "assistant", "content": body + (f"\n\n{marker}\n" if marker else "")}


def signature(marker: str | None = None, **changes: Any) -> dict[str, Any]:
    """A probe outcome of one signature; `marker` closes the demo reply in the few-shot prompt."""
    result = {
        "instructions": "Answer questions.",
        "fields": [{"name": "question", "io": "input", "annotation": "<class 'str'>", "extra": {}},
                   {"name": "answer", "io": "output", "annotation": "<class 'str'>", "extra": {}}],
        "prompts": {"zero_shot": [SYSTEM, FINAL], "few_shot": [SYSTEM, DEMO_USER, demo_reply(marker), FINAL]},
        "parsed": {"answer": "A fixed answer."},
    }
    result.update(changes)
    return {"ok": True, "seconds": 0.01, "result": result}


def report(marker: str | None = None) -> dict[str, Any]:
    """A minimal but complete probe report."""
    return {
        "dspy_version": "x",
        "python": "3.11.7",
        "imports": {"assistant.qa": {"ok": True, "seconds": 0.1, "result": "assistant.qa", "warnings": []}},
        "signatures": {"assistant.signatures.Q": signature(marker)},
        "modules": {"assistant.qa.DocsQA": {"ok": True, "seconds": 0.1, "result": {"output": {"answer": "4"}, "lm_calls": []}}},
        "components": {"model_switcher": {"ok": True, "seconds": 0.0, "result": {"use_sets_lm": True}},
                       "dspy_behaviour": {"ok": True, "seconds": 0.0, "result": {"evaluate_returns": "float"}}},
    }


def test_identical_reports_have_no_issues() -> None:
    assert compare(report(), report()) == []


def test_a_closing_marker_in_demo_replies_is_detected_as_a_low_format_change() -> None:
    found = compare(report(), report("[[ ## completed ## ]]"))
    assert found == [{
        "module": "assistant.signatures.Q",
        "kind": "prompt",
        "detail": "Q: ChatAdapter few-shot prompt: DSPy 3.0.1 adds `[[ ## completed ## ]]` to 1 assistant message(s); "
                  "every other line is byte-identical",
        "evidence": '20 -> 44 bytes in message 2 (assistant); removed lines []; added lines ["", "[[ ## completed ## ]]"]',
        "severity": "low",
    }]


def test_the_marker_is_read_from_the_diff_not_assumed() -> None:
    found = compare(report("[[ ## finished ## ]]"), report())
    assert [i["detail"] for i in found] == [
        "Q: ChatAdapter few-shot prompt: DSPy 3.0.1 drops `[[ ## finished ## ]]` from 1 assistant message(s); "
        "every other line is byte-identical"]


def test_changed_prompt_words_are_a_medium_issue() -> None:
    candidate = report()
    candidate["signatures"]["assistant.signatures.Q"]["result"]["prompts"]["zero_shot"] = [
        {"role": "system", "content": "Your inputs are:\n1. `question` (str)"}, FINAL]
    (found,) = compare(report(), candidate)
    assert (found["kind"], found["severity"]) == ("prompt", "medium")
    assert found["detail"] == "Q: ChatAdapter zero-shot prompt: the text of 1 message(s) differs beyond field markers"
    assert "message 0 (system)" in found["evidence"] and '"Your inputs are:"' in found["evidence"]


def test_schema_and_parse_changes_are_high() -> None:
    candidate = report()
    result = candidate["signatures"]["assistant.signatures.Q"]["result"]
    result["instructions"] = "Answer questions briefly."
    result["parsed"] = {"answer": "A fixed answer.\n"}
    found = compare(report(), candidate)
    assert [(i["kind"], i["severity"]) for i in found] == [("signature", "high"), ("parse", "high")]
    assert found[0]["detail"] == "Q: `instructions` is Answer questions. under 2.6.27, Answer questions briefly. under 3.0.1"


def test_failures_by_side() -> None:
    ok = {"ok": True, "seconds": 0, "result": 1}
    bad = {"ok": False, "seconds": 0, "error": "TypeError: boom"}
    assert outcome_issues("m", ok, bad, "DocsQA")[0]["severity"] == "high"
    assert outcome_issues("m", bad, ok, "DocsQA")[0]["severity"] == "info"
    both = outcome_issues("m", bad, bad, "DocsQA")[0]
    assert (both["detail"], both["severity"]) == ("DocsQA fails under both versions", "medium")
    assert outcome_issues("m", None, ok, "DocsQA")[0]["kind"] == "missing"
    assert outcome_issues("assistant.qa", ok, bad, "import assistant.qa", "import")[0]["kind"] == "import"


def test_output_and_api_differences() -> None:
    output = result_issues("assistant.qa.DocsQA", {"output": {"answer": "4"}}, {"output": {"answer": "5"}}, "DocsQA")
    assert [(i["kind"], i["severity"], i["detail"]) for i in output] == [
        ("output", "medium", "DocsQA: `output.answer` is 4 under 2.6.27, 5 under 3.0.1")]
    api = result_issues("dspy", {"evaluate_returns": "float"}, {"evaluate_returns": "EvaluationResult"}, "dspy", "api")
    assert (api[0]["kind"], api[0]["severity"]) == ("api", "low")


def test_long_values_stay_in_the_evidence() -> None:
    (found,) = result_issues("m", {"answer": "a" * 200}, {"answer": "b" * 200}, "X")
    assert found["detail"] == "X: `answer` differs"
    assert found["evidence"].startswith("2.6.27: aaaa") and len(found["evidence"]) < 700


def test_new_import_warnings_are_low() -> None:
    old = {"assistant.qa": {"ok": True, "warnings": ["DeprecationWarning: a"]}}
    new = {"assistant.qa": {"ok": True, "warnings": ["DeprecationWarning: a", "UserWarning: b"]}}
    assert import_issues(old, new) == [{"module": "assistant.qa", "kind": "warning", "detail": "import assistant.qa warns "
                                        "under DSPy 3.0.1 only", "evidence": "UserWarning: b", "severity": "low"}]


def test_test_failures_are_classified_by_where_they_fail() -> None:
    production = {"failed": ["t::a", "t::b"], "messages": {"t::a": "A", "t::b": "B"}}
    candidate = {"failed": ["t::b", "t::c"], "messages": {"t::b": "B", "t::c": "C"}}
    found = suite_issues(production, candidate, "tests/assistant")
    assert [(i["detail"], i["severity"], i["evidence"]) for i in found] == [
        ("t::c fails under DSPy 3.0.1 only", "high", "C"),
        ("t::b fails under both versions", "medium", "B"),
        ("t::a fails under DSPy 2.6.27 only", "info", "A")]


def test_compare_sorts_by_severity_and_counts() -> None:
    candidate = report("[[ ## completed ## ]]")
    candidate["modules"]["assistant.qa.DocsQA"] = {"ok": False, "seconds": 0, "error": "RuntimeError: x"}
    found = compare(report(), candidate, {"production": {"failed": [], "messages": {}},
                                          "candidate": {"failed": [], "messages": {}}})
    assert [i["severity"] for i in found] == ["high", "low"]
    assert counts(found) == {"high": 1, "medium": 0, "low": 1, "info": 0}


def test_part_issues_keeps_imports_apart_from_components() -> None:
    issues = [{"module": "assistant.app", "kind": "import", "severity": "high"},
              {"module": "assistant.app", "kind": "output", "severity": "medium"}]
    assert part_issues(issues, "imports", "assistant.app") == issues[:1]  # type: ignore[arg-type]
    assert part_issues(issues, "components", "integration") == issues[1:]  # type: ignore[arg-type]


def test_flatten_descends_into_records_but_keeps_scalar_lists_whole() -> None:
    assert flatten({"a": {"b": [1, 2]}, "c": [{"d": 1}], "e": {}}) == {"a.b": [1, 2], "c[0].d": 1, "e": {}}
    assert changed_leaves({"a": 1}, {"a": 1, "b": 2}) == [("b", None, 2)]
    assert format_only(["", "[[ ## x ## ]]"], []) and not format_only(["text"], [])


def test_compare_does_not_mutate_its_inputs() -> None:
    production, candidate = report(), report("[[ ## completed ## ]]")
    before = copy.deepcopy((production, candidate))
    compare(production, candidate)
    assert (production, candidate) == before
