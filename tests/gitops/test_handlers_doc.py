"""docs/handlers.md: its example (task list, handler, registry) runs through the engine as the page says."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from gitops.handlers import Registry, TaskContext
from gitops.model import CheckStatus
from gitops.run.execute import run_handler
from gitops.tasklist import parser
from tests.conftest import ROOT

DOC = ROOT / "docs" / "handlers.md"


def blocks(language: str) -> list[str]:
    """The fenced code blocks of docs/handlers.md in `language`, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.S | re.M)


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The doc's files written where it says, its registry module importable."""
    (tasklist,) = blocks("markdown")
    handler_module, registry_module = blocks("python")
    (config,) = blocks("toml")
    settings = tomllib.loads(config)["tool"]["gitops"]
    (tmp_path / settings["tasklist"]).write_text(tasklist, encoding="utf-8")
    reference = registry_module.split('"1.1": "')[1].split('"')[0]
    (tmp_path / f"{reference.split(':')[0]}.py").write_text(handler_module, encoding="utf-8")
    (tmp_path / f"{settings['handlers']}.py").write_text(registry_module, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return {"root": tmp_path, "settings": settings}


def run(example: dict[str, object]) -> tuple[list[dict], dict]:
    root, settings = example["root"], example["settings"]
    assert isinstance(root, Path) and isinstance(settings, dict)
    tasks, diagnostics = parser.load(root / settings["tasklist"])
    assert [d for d in diagnostics if d.severity == "error"] == []
    registry = Registry.from_module(settings["handlers"])
    assert registry.ids() == {"1.1"}
    work = root / ".gitops" / "work" / "1.1"
    work.mkdir(parents=True, exist_ok=True)
    ctx = TaskContext(tasks.tasks["1.1"], root, work, 1, {}, {}, lambda message: None)
    result = run_handler(registry.resolve("1.1"), ctx)
    assert result.error is None
    return result.checks, dict(result.updates)


def test_the_example_runs_through_the_engine_with_evidence_and_a_manual_criterion(example) -> None:
    (example["root"] / "README.md").write_text("# Greet\n\nThe greeting is in greeting.txt.\n", encoding="utf-8")
    checks, updates = run(example)
    assert [c["status"] for c in checks] == [CheckStatus.PASSED.value, CheckStatus.PASSED.value, CheckStatus.MANUAL.value]
    assert "'hello, world\\n'" in checks[0]["evidence"] and "line(s) [3]" in checks[1]["evidence"]
    assert updates == {"performance_metrics": {"greeting_bytes": 13.0}}
    assert run(example)[0] == checks  # idempotent: a second run finds the same


def test_the_example_s_checks_fail_and_skip_with_reasons(example) -> None:
    checks, _ = run(example)
    assert checks[1]["status"] == CheckStatus.SKIPPED.value and "no README.md" in checks[1]["evidence"]
    (example["root"] / "greeting.txt").write_text("bye\n", encoding="utf-8")
    (example["root"] / "README.md").write_text("# Greet\n", encoding="utf-8")
    checks, _ = run(example)  # the action restores the greeting; README.md still does not name it
    assert checks[0]["status"] == CheckStatus.PASSED.value and checks[1]["status"] == CheckStatus.FAILED.value
