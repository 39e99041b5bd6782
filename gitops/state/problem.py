"""What is wrong with a state document and where: the words every state.json message is built from."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Problem:
    """What is wrong and where: `where` is a key path like `tasks.1.1.checks[0].status`."""

    where: str
    text: str  # "expected a string, got 5"; empty for kind "missing"; the whole sentence for "newer"
    kind: str = "invalid"  # "invalid" | "missing" | "newer" (schema_version from a newer gitops)

    def describe(self) -> str:
        """The problem in words, without the file name or a fix: `key "x" is missing`."""
        if self.kind == "newer":
            return self.text
        if self.kind == "missing":
            return f'key "{self.where}" is missing'
        return f'key "{self.where}": {self.text}' if self.where else self.text


def child(where: str, key: str | int) -> str:
    """The key path of `key` (an object key, or a list index) inside `where`."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def key_path(keys: Iterable[str | int]) -> str:
    """`tasks.1.1.checks[0]` from the keys and indexes leading there from the top."""
    where = ""
    for key in keys:
        where = child(where, key)
    return where


def show(value: object) -> str:
    """A value as it appears in JSON, shortened; containers by kind."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = f"a Python {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."
