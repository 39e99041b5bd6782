"""The criterion Tasks 4.1 and 4.2 share: "Zero new external dependencies", checked on the source."""
from __future__ import annotations

import json
from pathlib import Path

from gitops.handlers import Check, TaskContext
from migration.memory.evidence import dependencies, git_show, third_party_imports


def check_dependencies(ctx: TaskContext) -> Check:
    modules = third_party_imports(ctx.root)
    foreign = {name: found for name, found in modules.items() if found}
    now = dependencies((ctx.root / "pyproject.toml").read_text(encoding="utf-8"))
    head_text = git_show(ctx.root, "HEAD", Path("pyproject.toml"))
    added = sorted(set(now) - set(dependencies(head_text))) if head_text is not None else []
    scope = "pyproject.toml [project] dependencies against git HEAD: " + (
        f"added {added}" if added else "none added" if head_text is not None else "HEAD not readable, not compared")
    evidence_text = (f"imports (ast) of assistant/{{{','.join(modules)}}}.py (memory_rehydrator and all it reaches): "
                     f"{'non-stdlib ' + json.dumps(foreign) if foreign else 'standard library and assistant only'}; {scope}")
    return (Check.failed if foreign or added else Check.passed)(evidence_text, third_party_imports=len(foreign))
