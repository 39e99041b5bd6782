"""Package boundaries: lazy public names, no dependency on the engine (DESIGN.md section 2)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import assistant

PACKAGE = Path(assistant.__file__).resolve().parent


def test_assistant_imports_neither_gitops_nor_migration() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in ("gitops", "migration")
            ]
    assert offenders == []


def test_all_lists_exactly_the_lazy_exports() -> None:
    assert sorted(assistant.__all__) == sorted(assistant._EXPORTS)


def test_every_public_name_resolves() -> None:
    for name in assistant.__all__:
        assert getattr(assistant, name) is not None, name


def test_unknown_attribute_raises() -> None:
    try:
        assistant.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as error:
        assert "no attribute 'NoSuchThing'" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_memory_and_ranking_do_not_import_dspy() -> None:
    # A fresh interpreter: this one has dspy loaded already.
    code = (
        "import sys, assistant.memory_rehydrator, assistant.ranking; print('dspy' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent
    )
    assert result.stdout.strip() == "False"


def test_every_module_is_small() -> None:
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.glob("*.py")}
    # STYLE.md: split a module when it passes ~400 lines (Task 4.1 grows memory_rehydrator).
    assert max(sizes.values()) <= 400, sizes
