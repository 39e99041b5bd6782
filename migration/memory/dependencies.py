"""The criterion Tasks 4.1 and 4.2 share: "Zero new external dependencies", checked on the source.

Task 4.1 words it "(uses existing psycopg2/sqlite3)": the memory may use the standard library
(sqlite3, asyncio) and the PostgreSQL driver. The driver is psycopg 3, psycopg2's successor by
the same authors, because psycopg2 has no asyncio API (docs/async-memory.md); the evidence
says so rather than pretending it is psycopg2.
"""
from __future__ import annotations

import json
from pathlib import Path

from gitops.handlers import Check, TaskContext
from migration.memory.evidence import dependencies, git_show, third_party_imports

DRIVER = "psycopg"  # the PostgreSQL driver of long-term memory


def check_dependencies(ctx: TaskContext) -> Check:
    modules = third_party_imports(ctx.root)
    foreign = {name: [i for i in found if i != DRIVER] for name, found in modules.items()}
    foreign = {name: found for name, found in foreign.items() if found}
    driver = sorted(name for name, found in modules.items() if DRIVER in found)
    now = dependencies((ctx.root / "pyproject.toml").read_text(encoding="utf-8"))
    head_text = git_show(ctx.root, "HEAD", Path("pyproject.toml"))
    added = sorted(set(now) - set(dependencies(head_text))) if head_text is not None else []
    scope = "pyproject.toml [project] dependencies against git HEAD: " + (
        f"added {added}" if added else "none added" if head_text is not None else "HEAD not readable, not compared")
    evidence_text = (f"imports (ast) of assistant/{{{','.join(modules)}}}.py (memory_rehydrator and all it reaches): "
                     f"{'other third-party ' + json.dumps(foreign) if foreign else 'the standard library (sqlite3, asyncio), assistant'}"
                     f" and the PostgreSQL driver psycopg (psycopg 3, psycopg2's successor: psycopg2 has no asyncio API) "
                     f"in {', '.join(driver) or 'no module'}; {scope}")
    return (Check.failed if foreign or added else Check.passed)(evidence_text, third_party_imports=len(foreign))
