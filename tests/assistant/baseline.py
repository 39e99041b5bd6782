"""The assertion framework as committed before B-1006 Task 3.1, loadable beside its replacement.

`tests/data/assertions_baseline/` holds `assistant/assertions.py`, `qa.py` and
`role_refinement.py` verbatim from BASELINE_COMMIT (test_baseline_is_verbatim checks it).
They load as `assistant_baseline.<name>`, with the old call sites' `from assistant.assertions
import ...` bound to the old framework, so old and new run side by side in one process.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BASELINE = Path(__file__).resolve().parents[1] / "data" / "assertions_baseline"
BASELINE_COMMIT = "0a93571a1f5493b299f3c41bea003d8d64af3f7f"
FILES = ("assertions", "qa", "role_refinement")


def _execute(name: str, framework: ModuleType | None) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"assistant_baseline.{name}", BASELINE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    saved = sys.modules.get("assistant.assertions")
    if framework is not None:
        sys.modules["assistant.assertions"] = framework
    try:
        spec.loader.exec_module(module)
    finally:
        if framework is not None and saved is not None:
            sys.modules["assistant.assertions"] = saved
    return module


@functools.cache
def baseline(name: str) -> ModuleType:
    """The baseline module `name` (one of FILES); call sites use the baseline framework."""
    if name not in FILES:
        raise ValueError(f"no baseline module {name!r}; known: {', '.join(FILES)}")
    return _execute(name, None if name == "assertions" else baseline("assertions"))
