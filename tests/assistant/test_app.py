"""The Assistant facade: roles, models and memory wired around DocsQA."""

from __future__ import annotations

import threading
from pathlib import Path

from assistant.app import Assistant
from assistant.memory_rehydrator import MemoryKind, MemoryRehydrator
from assistant.model_switcher import ANY_ROLE, ModelSwitcher, TaskType
from assistant.offline_lm import OFFLINE_LABEL, ExtractiveLM
from assistant.qa import DocsQA
from assistant.retrieval import DocRetriever
from assistant.role_refinement import RoleFeedback


def test_from_repo_answers_offline_without_configuration(tiny_repo: Path) -> None:
    answer = Assistant.from_repo(tiny_repo, environ={}).ask("What does the shed hold?")
    assert answer.answer == "The shed holds a spade, a rake and a wheelbarrow."
    assert (answer.sources[0], answer.role, answer.lm) == (
        "docs/tools.md",
        "researcher",
        OFFLINE_LABEL,
    )
    assert answer.passed_validation


def test_each_role_gets_its_prompt_and_its_model(tiny_repo: Path) -> None:
    default, reviewer_lm = ExtractiveLM(), ExtractiveLM()
    switcher = ModelSwitcher(default, {(TaskType.QA, "reviewer"): reviewer_lm})
    assistant = Assistant(DocsQA(DocRetriever.from_repo(tiny_repo)), switcher)
    assistant.ask("shed", role="reviewer")
    assistant.ask("shed", role="coder")
    assert len(reviewer_lm.history) == 1 and len(default.history) == 1
    assert "You are the reviewer." in reviewer_lm.history[0]["messages"][0]["content"]
    assert "You are the coder." in default.history[0]["messages"][0]["content"]
    assert assistant.program_for("coder") is assistant.program_for("coder")  # cached


def test_memory_is_recalled_and_each_turn_recorded(tiny_repo: Path) -> None:
    with MemoryRehydrator() as memory:
        memory.remember("note:wheelbarrow", "Memory\nAda borrowed the wheelbarrow on Monday.")
        assistant = Assistant.from_repo(tiny_repo, environ={}, memory=memory)
        answer = assistant.ask("Who borrowed the wheelbarrow?")
        assert answer.answer == "Ada borrowed the wheelbarrow on Monday."
        assert memory.counts()[MemoryKind.EPISODIC] == 2
        assert [m.label for m in memory.recent_events("default")] == [
            "default/answer",
            "default/question",
        ]


def test_refined_roles_change_later_answers_prompts(tiny_repo: Path) -> None:
    refine_lm = ExtractiveLM()
    switcher = ModelSwitcher(ExtractiveLM(), {(TaskType.ROLE_REFINEMENT, ANY_ROLE): refine_lm})
    assistant = Assistant(DocsQA(DocRetriever.from_repo(tiny_repo)), switcher)
    before = assistant.program_for("coder")
    report = assistant.refine_roles(
        [RoleFeedback("coder", 1, "Show the change as a unified diff.")]
    )
    assert report.changes[0].after.version == 2
    after = assistant.program_for("coder")
    assert after is not before
    assert "- Show the change as a unified diff." in after.answer.signature.instructions


def test_concurrent_questions_in_different_roles(tiny_repo: Path) -> None:
    lms = {role: ExtractiveLM() for role in ("coder", "reviewer", "planner")}
    switcher = ModelSwitcher(ExtractiveLM(), {(TaskType.QA, role): lm for role, lm in lms.items()})
    assistant = Assistant(DocsQA(DocRetriever.from_repo(tiny_repo)), switcher)
    answers: list[tuple[str, str]] = []

    def ask(role: str) -> None:
        for _ in range(3):
            answers.append((role, assistant.ask("What keeps slugs away?", role=role).answer))

    threads = [threading.Thread(target=ask, args=(role,)) for role in lms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(lm.history) for lm in lms.values()) == [3, 3, 3]
    assert {answer for _, answer in answers} == {"Copper tape keeps slugs away."}
