"""Where Tasks 4.1 and 4.2 keep what their actions measured: `<workdir>/evidence.json`.

The action writes it once; every check reads it back and cites its numbers.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gitops.handlers import TaskContext

EVIDENCE = "evidence.json"


def save(ctx: TaskContext, record: Mapping[str, Any]) -> None:
    (ctx.workdir / EVIDENCE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def evidence(ctx: TaskContext) -> dict[str, Any]:
    return json.loads((ctx.workdir / EVIDENCE).read_text(encoding="utf-8"))
