"""Fixtures shared by the assistant's tests: the real docs, the devset, one optimization run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dspy
import pytest

from assistant.devset import Split, load_devset
from assistant.model_switcher import ModelSwitcher
from assistant.offline_lm import ExtractiveLM
from assistant.optimization import OptimizationResult, run_optimization
from assistant.qa import DocsQA
from assistant.retrieval import DocRetriever

ROOT = Path(__file__).resolve().parents[2]

TINY_DOCS = {
    "README.md": "# Garden\n\nThe garden grows tomatoes and basil.\n\n## Watering\n\n"
    "Water the tomatoes every morning. Basil needs less water.\n",
    "docs/tools.md": "# Tools\n\nThe shed holds a spade, a rake and a wheelbarrow.\n\n"
    "## Sharpening\n\nSharpen the spade every spring with a flat file.\n",
    "docs/pests.md": "# Pests\n\nSlugs eat basil leaves at night. Copper tape keeps slugs away.\n",
}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def repo_retriever(repo_root: Path) -> DocRetriever:
    return DocRetriever.from_repo(repo_root)


@pytest.fixture
def tiny_repo(tmp_path: Path) -> Path:
    """A repository with three small documents about a garden."""
    for name, text in TINY_DOCS.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.fixture
def offline_lm() -> ExtractiveLM:
    return ExtractiveLM()


@pytest.fixture
def switcher(offline_lm: ExtractiveLM) -> ModelSwitcher:
    return ModelSwitcher(offline_lm)


@pytest.fixture
def lm_context(offline_lm: ExtractiveLM) -> Iterator[ExtractiveLM]:
    """The offline LM current in this thread for the test's duration."""
    with dspy.context(lm=offline_lm):
        yield offline_lm


@pytest.fixture(scope="session")
def devset() -> Split:
    return load_devset()


@pytest.fixture(scope="session")
def student(repo_retriever: DocRetriever) -> DocsQA:
    """The uncompiled program that the shared optimization run starts from."""
    return DocsQA(repo_retriever)


@pytest.fixture(scope="session")
def optimization(student: DocsQA, devset: Split) -> OptimizationResult:
    """One BootstrapFewShot run on the shipped devset, shared by every test that reads it."""
    return run_optimization(student, devset, switcher=ModelSwitcher(ExtractiveLM()))


# Constitution-aware: every test in this directory is judged against migration/constitution
# (see docs/constitution.md). Hooks imported into a conftest apply to the tests below it only;
# `pytest_plugins` here would be an error when pytest collects from the repository root.
from migration.constitution.pytest_plugin import (  # noqa: E402,F401
    pytest_configure,
    pytest_runtest_call,
    pytest_runtest_setup,
    pytest_runtest_teardown,
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_unconfigure,
)
