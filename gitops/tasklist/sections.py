"""Sections outside the task area: Current State, HotFix template, Quality Gates, Safety Rules."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from types import MappingProxyType

from gitops.model import HotFixTemplate, SafetyRules
from gitops.tasklist.diagnostics import Sink
from gitops.tasklist.fields import split_field
from gitops.tasklist.markdown import Block, Item
from gitops.tasklist.text import CHECKBOX_RE, unmark

_COLON_RE = re.compile(r"\s*:")


@dataclass
class _Section:
    heading: Block
    blocks: list[Block]  # everything up to the next heading of the same or a higher level
    last_line: int


def read_sections(blocks: list[Block], start: int, end: int, lines: list[str],
                  sink: Sink) -> dict[str, object]:
    """TaskList keyword arguments from the sections before `start` and from `end` on."""
    extras: dict[str, object] = {}
    safety: dict[str, object] = {}
    for section in _sections(blocks, start, end, len(lines)):
        name = section.heading.text.lower()
        if "current state" in name and "initial_state" not in extras:
            extras.update(_read_state(section, sink))
        elif _is_hotfix_template(section.heading) and "hotfix_template" not in extras:
            extras["hotfix_template"] = _read_hotfix(section, lines)
        elif "quality gates" in name and "quality_gates" not in extras:
            extras["quality_gates"] = tuple(_gate_name(i) for i in _items(section))
        elif "safety rules" in name:
            safety.update(_read_safety(section, sink))
        elif "human checkpoints" in name:
            if any("critical priority" in i.text.lower() for i in _items(section)):
                safety["critical_needs_person"] = True
    if safety:
        extras["safety"] = SafetyRules(**safety)  # type: ignore[arg-type]
    return extras


def _sections(blocks: list[Block], start: int, end: int, line_count: int) -> list[_Section]:
    found = []
    for low, high in ((0, start), (end, len(blocks))):
        last_line = blocks[high].line - 1 if high < len(blocks) else line_count
        for index in range(low, high):
            heading = blocks[index]
            if heading.level == 0:  # not a heading
                continue
            stop = next((j for j in range(index + 1, high) if 0 < blocks[j].level <= heading.level),
                        high)
            stop_line = blocks[stop].line - 1 if stop < high else last_line
            found.append(_Section(heading, blocks[index + 1:stop], stop_line))
    return found


def _items(section: _Section) -> list[Item]:
    return [item for block in section.blocks if block.kind == "list" for item in block.items]


# ---------------------------------------------------------------------------------------
# Current State: the ```json block that seeds state.json


def _read_state(section: _Section, sink: Sink) -> dict[str, object]:
    fence = next((b for b in section.blocks if b.kind == "fence"
                  and (b.info.lower().startswith("json") or b.raw.lstrip().startswith("{"))), None)
    if fence is None:
        return {}
    where: dict[str, object] = {"initial_state_line": fence.line}
    try:
        data = json.loads(fence.raw)
    except json.JSONDecodeError as exc:
        sink.error(min(fence.line + exc.lineno, fence.end), f"the Current State block is not valid "
                   f"JSON ({exc.msg}, line {exc.lineno} column {exc.colno} of the block); fix it")
        return where
    except (ValueError, RecursionError) as exc:  # huge numbers, absurd nesting
        sink.error(fence.line, f"the Current State block cannot be read as JSON ({exc}); fix it")
        return where
    if not isinstance(data, dict):
        sink.error(fence.line, "the Current State block must be a JSON object ({...}); fix it")
        return where
    return {**where, "initial_state": data,
            "initial_state_lines": MappingProxyType(_key_lines(fence.raw, fence.line + 1))}


def _key_lines(source: str, first_line: int) -> dict[str, int]:
    """Line of each top-level key of a valid JSON object."""
    found: dict[str, int] = {}
    depth, line, index = 0, first_line, 0
    while index < len(source):
        char = source[index]
        if char == "\n":
            line += 1
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        elif char == '"':
            close = _string_end(source, index)
            if depth == 1 and _COLON_RE.match(source, close + 1):
                found.setdefault(json.loads(source[index:close + 1]), line)
            index = close
        index += 1
    return found


def _string_end(source: str, index: int) -> int:
    index += 1
    while index < len(source) and source[index] != '"':
        index += 2 if source[index] == "\\" else 1
    return index


# ---------------------------------------------------------------------------------------
# HotFix template, Quality Gates, Safety Rules


_TEMPLATE_TASK_RE = re.compile(r"\bt-hotfix-", re.I)


def _is_hotfix_template(heading: Block) -> bool:
    """`## HotFix Task Template`, or the template task itself (`### T-HotFix-<n> ...`).

    A document title (`# HotFix drill for the payments DB`) or HotFix prose (`## HotFix Process`)
    is not a template: taking one would post the whole section as every HotFix issue.
    """
    name = heading.text.lower()
    if heading.level <= 1:
        return False
    return ("hotfix" in name and "template" in name) or bool(_TEMPLATE_TASK_RE.search(name))


def _read_hotfix(section: _Section, lines: list[str]) -> HotFixTemplate:
    headings = [b for b in section.blocks if b.level > 0]
    template = next((b for b in headings if "hotfix" in b.text.lower()), section.heading)
    after = [b for b in headings if b.line > template.line and b.level <= template.level]
    last = after[0].line - 1 if after else section.last_line
    body = "\n".join(lines[template.end:last]).strip("\n")
    return HotFixTemplate(heading=template.raw, body=body, line=template.line)


def _gate_name(item: Item) -> str:
    bold = re.match(r"\s*(?:\[[ xX]?\]\s*)?\*\*(.+?)\*\*", item.raw)
    if bold:
        return unmark(bold.group(1))
    text = CHECKBOX_RE.fullmatch(item.text)
    plain = text.group(2) if text else item.text
    return re.split(r"\s+-\s+|:", plain, maxsplit=1)[0].strip()


def _read_safety(section: _Section, sink: Sink) -> dict[str, object]:
    rules: dict[str, object] = {}
    keywords: list[str] = []
    for item in _items(section):
        parts = split_field(item.raw.split("\n")[0])
        if not parts:
            continue
        name, value = parts[0], parts[1].lower()
        if "consecutive failure" in name.lower() and (count := re.search(r"[0-9]{1,6}", value)):
            if int(count.group(0)) >= 1:
                rules["max_consecutive_failures"] = int(count.group(0))
            else:
                sink.warning(item.line, f"**{name}** must allow at least 1 failure; the default "
                                        "of 2 is used; write a number of 1 or more")
        elif "always pause" in value and name.split():
            keywords.append(_keyword(name))
        elif "human checkpoint" in name.lower() and "critical priority" in value:
            rules["critical_needs_person"] = True
    if keywords:
        rules["pause_keywords"] = tuple(dict.fromkeys(keywords))
    return rules


def _keyword(name: str) -> str:
    """Keyword from a rule's name: Database Changes -> database, Deployment Scripts -> deploy."""
    word = name.split()[0].lower()
    if word.endswith("ment") and len(word) > 4:
        return word[:-4]
    if word.endswith("s") and len(word) > 1:
        return word[:-1]
    return word
