"""Read the articles of `CONSTITUTION.md`: id, what they apply to, clause text, parameters."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

DOCUMENT = Path(__file__).with_name("CONSTITUTION.md")
HEADING = re.compile(r"^###\s+Article\s+([A-Z]\d+):\s*(.+?)\s*$")
FIELD = re.compile(r"^\*\*(Applies to|Clause|Parameters)\*\*:\s*(.*?)\s*$")


class ConstitutionError(Exception):
    """The constitution cannot be read, or its articles and checkers disagree."""


class Scope(str, Enum):
    """What an article judges; the values are the words the document uses."""

    OUTPUTS = "outputs"
    OPERATIONS = "operations"


@dataclass(frozen=True)
class Article:
    """One checkable clause of the constitution."""

    id: str  # "O1", "P3"
    title: str
    scope: Scope
    clause: str
    params: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0  # line of its heading in the document


def _params(text: str, where: str) -> dict[str, Any]:
    raw = text.strip().strip("`")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConstitutionError(f"{where}: **Parameters** is not a JSON object in backticks ({exc})") from exc
    if not isinstance(value, dict):
        raise ConstitutionError(f"{where}: **Parameters** must be a JSON object, got {raw}")
    return value


def parse(text: str, name: str = "CONSTITUTION.md") -> tuple[Article, ...]:
    """The articles of a constitution document, in document order."""
    found: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        heading = HEADING.match(line)
        if heading:
            found.append({"id": heading[1], "title": heading[2], "line": number})
            continue
        item = FIELD.match(line)
        if item and found:
            where = f"{name}:{number}"
            if item[1] in found[-1]:
                raise ConstitutionError(f"{where}: article {found[-1]['id']} has two **{item[1]}** fields")
            found[-1][item[1]] = _params(item[2], where) if item[1] == "Parameters" else item[2]
    return tuple(_article(entry, name) for entry in _unique(found, name))


def _unique(found: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    seen: dict[str, int] = {}
    for entry in found:
        if entry["id"] in seen:
            raise ConstitutionError(f"{name}:{entry['line']}: article {entry['id']} is already defined "
                                    f"at line {seen[entry['id']]}")
        seen[entry["id"]] = entry["line"]
    return found


def _article(entry: Mapping[str, Any], name: str) -> Article:
    where = f"{name}:{entry['line']}"
    for needed in ("Applies to", "Clause"):
        if not entry.get(needed):
            raise ConstitutionError(f"{where}: article {entry['id']} has no **{needed}** field")
    try:
        scope = Scope(entry["Applies to"])
    except ValueError:
        raise ConstitutionError(f"{where}: article {entry['id']} applies to {entry['Applies to']!r}; "
                                f"write `outputs` or `operations`") from None
    prefix = "O" if scope is Scope.OUTPUTS else "P"
    if not entry["id"].startswith(prefix):
        raise ConstitutionError(f"{where}: article {entry['id']} applies to {scope.value}: its id must start with {prefix}")
    return Article(entry["id"], entry["title"], scope, entry["Clause"], entry.get("Parameters", {}), entry["line"])


def load(path: Path = DOCUMENT) -> tuple[Article, ...]:
    """The articles of the constitution file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConstitutionError(f"cannot read the constitution {path}: {exc}") from exc
    articles = parse(text, path.name)
    if not articles:
        raise ConstitutionError(f"{path} has no `### Article <ID>: <title>` headings")
    return articles
