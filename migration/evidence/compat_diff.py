"""Compare two `compat_probe` reports (production, candidate) and the two test runs: every difference an issue.

Pure functions on JSON-shaped data, so they are tested on fixed inputs. An issue is
`{module, kind, detail, evidence, severity}`. Severity: `high` breaks the assistant
(an import, run or test fails only under the candidate, a signature's schema or parse
changed), `medium` changes behaviour (different outputs, a failure under both versions),
`low` changes form only (prompt bytes that the parse and outputs do not feel, a dspy API
the assistant already adapts to, a new warning), `info` is a candidate improvement.
"""
from __future__ import annotations

import difflib
import json
import re
from typing import Any, Mapping

SEVERITIES = ("high", "medium", "low", "info")
MARKER = re.compile(r"^\[\[ ## \w+ ## \]\]$")  # a ChatAdapter field marker alone on its line
INDEX = re.compile(r"\[(\d+)\]")
# Each probe component: the issue's `module` and how a report names it.
COMPONENTS = {"model_switcher": ("assistant.model_switcher", "ModelSwitcher"),
              "optimization": ("assistant.optimization", "optimization loop (BootstrapFewShot + Evaluate)"),
              "dashboard": ("assistant.dashboard", "metrics dashboard (PNG + table)"),
              "role_refinement": ("assistant.role_refinement", "role refinement"),
              "integration": ("assistant.app", "system integration (Assistant.from_repo(root).ask)"),
              "dspy_behaviour": ("dspy", "dspy behaviour the assistant adapts to")}
EVIDENCE_CHARS = 300
SHORT_DETAIL = 80  # values this short go into an issue's detail, longer ones only into its evidence
Issue = dict[str, str]


def issue(module: str, kind: str, detail: str, evidence: str, severity: str) -> Issue:
    """One recorded difference."""
    assert severity in SEVERITIES, severity
    return {"module": module, "kind": kind, "detail": detail, "evidence": evidence, "severity": severity}


def short(value: Any) -> str:
    """A value as compact JSON, cut to EVIDENCE_CHARS."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 3] + "..."


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """JSON as {"a.b[0].c": leaf}; empty containers and lists of scalars are leaves."""
    if isinstance(value, Mapping) and value:
        return {k: v for key, item in value.items() for k, v in flatten(item, f"{path}.{key}" if path else str(key)).items()}
    if isinstance(value, list) and any(isinstance(item, (Mapping, list)) for item in value):
        return {k: v for i, item in enumerate(value) for k, v in flatten(item, f"{path}[{i}]").items()}
    return {path: value}


def changed_leaves(production: Any, candidate: Any) -> list[tuple[str, Any, Any]]:
    """(path, production value, candidate value) of every leaf that differs; absent is None."""
    left, right = flatten(production), flatten(candidate)
    return [(p, left.get(p), right.get(p)) for p in sorted(set(left) | set(right)) if left.get(p) != right.get(p)]


def line_changes(production: str, candidate: str) -> tuple[list[str], list[str]]:
    """Lines only in production (removed) and only in candidate (added), in order."""
    removed, added = [], []
    for line in difflib.ndiff(production.splitlines(), candidate.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def format_only(removed: list[str], added: list[str]) -> bool:
    """True when every changed line is blank or a bare field marker (nothing a parse reads)."""
    return all(not line.strip() or MARKER.match(line.strip()) for line in removed + added)


def message_role(path: str, messages: Any) -> str:
    """The role of the message a path like 'prompts.few_shot[2].content' points at."""
    index = int(INDEX.findall(path)[-1]) if INDEX.search(path) else -1
    if not isinstance(messages, list) or not 0 <= index < len(messages):
        return "?"
    return str(messages[index].get("role", "?"))


def text_diff(module: str, what: str, changes: list[tuple[str, Any, Any]], messages: Any) -> Issue:
    """One issue for a prompt's changed messages: which markers appeared or vanished, in which turns."""
    removed: list[str] = []
    added: list[str] = []
    for _, old, new in changes:
        minus, plus = line_changes(str(old or ""), str(new or ""))
        removed += minus
        added += plus
    roles = [message_role(path, messages) for path, _, _ in changes]
    turns = ", ".join(f"message {INDEX.findall(path)[-1]} ({role})"
                      for (path, _, _), role in zip(changes, roles, strict=True))
    before = sum(len(str(old or "").encode()) for _, old, _ in changes)
    after = sum(len(str(new or "").encode()) for _, _, new in changes)
    if format_only(removed, added):
        gained = sorted({x.strip() for x in added if MARKER.match(x.strip())})
        lost = sorted({x.strip() for x in removed if MARKER.match(x.strip())})
        where = f"{len(changes)} {'/'.join(sorted(set(roles)))} message(s)"
        parts = [f"adds {', '.join(f'`{m}`' for m in gained)} to {where}" if gained else "",
                 f"drops {', '.join(f'`{m}`' for m in lost)} from {where}" if lost else "",
                 f"changes only blank lines in {where}" if not gained and not lost else ""]
        detail = f"{what}: DSPy 3.0.1 {'; '.join(p for p in parts if p)}; every other line is byte-identical"
        severity = "low"
    else:
        detail, severity = f"{what}: the text of {len(changes)} message(s) differs beyond field markers", "medium"
    evidence = f"{before} -> {after} bytes in {turns}; removed lines {short(removed)}; added lines {short(added)}"
    return issue(module, "prompt", detail, evidence, severity)


def outcome_issues(module: str, production: Mapping[str, Any] | None, candidate: Mapping[str, Any] | None,
                   what: str, kind: str = "output") -> list[Issue]:
    """Issues of one probed part: missing, failing, or with different results."""
    if production is None or candidate is None:
        side = "production" if production is None else "candidate"
        return [issue(module, "missing", f"{what} was probed under one version only", f"absent from the {side} report", "medium")]
    if not production["ok"] or not candidate["ok"]:
        error = "import" if kind == "import" else "error"
        if production["ok"]:
            return [issue(module, error, f"{what} fails under DSPy 3.0.1 only", short(candidate.get("error")), "high")]
        if candidate["ok"]:
            return [issue(module, error, f"{what} fails under DSPy 2.6.27 only", short(production.get("error")), "info")]
        return [issue(module, error, f"{what} fails under both versions",
                      f"2.6.27: {short(production.get('error'))}; 3.0.1: {short(candidate.get('error'))}", "medium")]
    return result_issues(module, production["result"], candidate["result"], what, kind)


PROMPT = re.compile(r"^(prompts\.\w+|lm_calls\[\d+\])\[\d+\]\.content$")


def lookup(result: Any, prompt: str) -> Any:
    """The message list at 'prompts.few_shot' or 'lm_calls[1]' of a result."""
    name, _, rest = prompt.partition(".")
    if rest:
        return (result.get(name) or {}).get(rest)
    name, index = name.rstrip("]").split("[")
    return (result.get(name) or [])[int(index)]


def result_issues(module: str, production: Any, candidate: Any, what: str, kind: str = "output") -> list[Issue]:
    """Differences of two results: each prompt's text changes as one issue, every other leaf as its own."""
    prompts: dict[str, list[tuple[str, Any, Any]]] = {}
    found: list[Issue] = []
    for path, old, new in changed_leaves(production, candidate):
        prompt = PROMPT.match(path)
        if prompt and isinstance(old, str) and isinstance(new, str):
            prompts.setdefault(prompt.group(1), []).append((path, old, new))
            continue
        leaf, severity = leaf_kind(path, kind)
        values = f"{short(old)} under 2.6.27, {short(new)} under 3.0.1"
        detail = f"{what}: `{path}` is {values}" if len(values) <= SHORT_DETAIL else f"{what}: `{path}` differs"
        found.append(issue(module, leaf, detail, f"2.6.27: {short(old)}; 3.0.1: {short(new)}", severity))
    for prompt, group in prompts.items():
        label = (f"{what}: ChatAdapter {prompt.split('.')[1].replace('_', '-')} prompt" if prompt.startswith("prompts.")
                 else f"{what}: prompt of LM call {prompt.split('[')[1].rstrip(']')}")
        found.append(text_diff(module, label, group, lookup(candidate, prompt)))
    return found


def leaf_kind(path: str, kind: str) -> tuple[str, str]:
    """The kind and severity of a differing leaf that is not prompt text."""
    if path.startswith(("fields", "instructions")):
        return "signature", "high"
    if path.startswith("parsed"):
        return "parse", "high"
    if path.startswith(("prompts", "lm_calls")):  # a message added or removed, or its role changed
        return "prompt", "medium"
    return (kind, "low") if kind == "api" else (kind, "medium")


def import_issues(production: Mapping[str, Any], candidate: Mapping[str, Any]) -> list[Issue]:
    """Import failures and warnings that differ, per module."""
    found = []
    for name in sorted(set(production) | set(candidate)):
        old, new = production.get(name), candidate.get(name)
        found += outcome_issues(name, old, new, f"import {name}", "import") if not (old and new and old["ok"] and new["ok"]) else []
        for warning in sorted(set((new or {}).get("warnings", [])) - set((old or {}).get("warnings", []))):
            found.append(issue(name, "warning", f"import {name} warns under DSPy 3.0.1 only", short(warning), "low"))
    return found


def suite_issues(production: Mapping[str, Any], candidate: Mapping[str, Any], suite: str) -> list[Issue]:
    """Failing tests of the suite: under the candidate only, under both, under production only."""
    old = set(production["failed"])
    new = set(candidate["failed"])
    rows = [(t, "high", "fails under DSPy 3.0.1 only") for t in sorted(new - old)]
    rows += [(t, "medium", "fails under both versions") for t in sorted(new & old)]
    rows += [(t, "info", "fails under DSPy 2.6.27 only") for t in sorted(old - new)]
    return [issue(suite, "test", f"{test} {verdict}", short(candidate["messages"].get(test) or production["messages"].get(test, "")), sev)
            for test, sev, verdict in rows]


def compare(production: Mapping[str, Any], candidate: Mapping[str, Any],
            tests: Mapping[str, Mapping[str, Any]] | None = None, suite: str = "tests/assistant") -> list[Issue]:
    """Every difference between the two probe reports (and test runs), most severe first."""
    found = import_issues(production["imports"], candidate["imports"])
    for section, kind in (("signatures", "signature"), ("modules", "output")):
        for name in sorted(set(production[section]) | set(candidate[section])):
            found += outcome_issues(name, production[section].get(name), candidate[section].get(name), name.rsplit(".", 1)[-1], kind)
    for name in sorted(set(production["components"]) | set(candidate["components"])):
        kind = "api" if name == "dspy_behaviour" else "output"
        module, label = COMPONENTS.get(name, (name, name))
        found += outcome_issues(module, production["components"].get(name), candidate["components"].get(name), label, kind)
    if tests:
        found += suite_issues(tests["production"], tests["candidate"], suite)
    return sorted(found, key=lambda i: SEVERITIES.index(i["severity"]))


IMPORT_KINDS = ("import", "warning")


def part_issues(issues: list[Issue], section: str, name: str) -> list[Issue]:
    """The issues of one probed part ("imports", "signatures", "modules" or "components", and its name)."""
    module = COMPONENTS.get(name, (name, name))[0] if section == "components" else name
    return [i for i in issues if i["module"] == module and (i["kind"] in IMPORT_KINDS) == (section == "imports")]


def counts(issues: list[Issue]) -> dict[str, int]:
    """How many issues of each severity."""
    return {severity: sum(1 for i in issues if i["severity"] == severity) for severity in SEVERITIES}
