"""Assistant: the parts wired together (retrieval, QA, roles, models, memory)."""
from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from assistant.memory_rehydrator import MemoryRehydrator
from assistant.model_switcher import ModelSwitcher, TaskType
from assistant.qa import DocsQA
from assistant.retrieval import DocRetriever
from assistant.role_refinement import RefinementReport, RoleFeedback, refine_roles
from assistant.roles import DEFAULT_ROLE, RoleRegistry

MEMORIES_PER_QUESTION = 2


@dataclass(frozen=True)
class Answer:
    """An answer, where it came from, and which role and LM produced it."""

    question: str
    answer: str
    sources: tuple[str, ...]
    role: str
    lm: str
    passed_validation: bool


class Assistant:
    """Answers questions about a repository's documentation in a chosen role.

    Thread-safe: each `ask` runs its program inside its own `dspy.context`.
    """

    def __init__(
        self,
        program: DocsQA,
        switcher: ModelSwitcher,
        roles: RoleRegistry | None = None,
        memory: MemoryRehydrator | None = None,
        session: str = "default",
    ) -> None:
        self.program = program
        self.switcher = switcher
        self.roles = roles or RoleRegistry.defaults()
        self.memory = memory
        self.session = session
        self._programs: dict[tuple[str, str], DocsQA] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_repo(
        cls,
        root: Path,
        environ: Mapping[str, str] | None = None,
        memory: MemoryRehydrator | None = None,
    ) -> Assistant:
        """An assistant over the documentation of the repository at `root`."""
        program = DocsQA(DocRetriever.from_repo(root))
        return cls(program, ModelSwitcher.from_environ(environ), memory=memory)

    def program_for(self, role: str) -> DocsQA:
        """The QA program instructed with `role`'s current prompt (cached per prompt text)."""
        prompt = self.roles.get(role).prompt
        with self._lock:
            key = (role, prompt)
            if key not in self._programs:
                self._programs[key] = self.program.with_instructions(prompt)
            return self._programs[key]

    def ask(self, question: str, role: str = DEFAULT_ROLE) -> Answer:
        """Answer `question` as `role`; with a memory store, recall and record the turn."""
        program = self.program_for(role)
        memories: list[str] = []
        if self.memory is not None:
            memories = [m.content for m in self.memory.rehydrate(question, MEMORIES_PER_QUESTION)]
        with self.switcher.use(TaskType.QA, role):
            prediction = program(question=question, extra_context=memories)
        if self.memory is not None:
            self.memory.add_event(self.session, "question", question)
            self.memory.add_event(self.session, "answer", prediction.answer)
        return Answer(
            question,
            prediction.answer,
            tuple(prediction.sources),
            role,
            self.switcher.label(TaskType.QA, role),
            bool(prediction.passed),
        )

    def refine_roles(self, feedback: Iterable[RoleFeedback]) -> RefinementReport:
        """Rewrite low-rated role prompts; later `ask` calls use the new prompts."""
        report = refine_roles(self.roles, feedback, switcher=self.switcher)
        self.roles = report.registry
        return report
