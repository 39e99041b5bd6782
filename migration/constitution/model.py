"""What the clauses judge (outputs, operations), where they judge it (World), and verdicts."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, NamedTuple

from gitops.redact import PATTERNS, Redactor

EVIDENCE_CHARS = 160  # evidence quotes outputs; keep failure messages readable


@dataclass(frozen=True)
class OutputRecord:
    """One output: a module's return value as fields, its inputs, the LM current at the call."""

    module: str  # qualified class name, or "dspy.Evaluate"
    fields: Mapping[str, Any]
    inputs: Mapping[str, Any] = field(default_factory=dict)
    lm: str | None = None
    kind: str = "module"  # "module" | "evaluation"

    def describe(self) -> str:
        """How failure messages name the output."""
        return f"{self.kind} output of {self.module}"

    def texts(self) -> dict[str, str]:
        """The string-valued fields."""
        return {name: value for name, value in self.fields.items() if isinstance(value, str)}

    def text(self, name: str) -> str:
        """A field or input as text; lists are joined with newlines."""
        value = self.fields.get(name, self.inputs.get(name, ""))
        if isinstance(value, (list, tuple)):
            return "\n".join(str(item) for item in value)
        return "" if value is None else str(value)


@dataclass(frozen=True)
class Operation:
    """Something the pipeline does to the world, announced before it is done."""

    kind: str  # delete, move, write, deploy, push, run, consume
    details: Mapping[str, Any] = field(default_factory=dict)
    source: str = "api"  # "api": constitution.operation(); "audit": the audit hook saw it

    def describe(self) -> str:
        """How failure messages name the operation."""
        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(self.details.items()))
        return f"operation {self.kind}({shown})" + (" [seen by the audit hook]" if self.source == "audit" else "")


class Verdict(NamedTuple):
    """What one clause says of one subject: does it apply, and if so what broke it."""

    applies: bool
    violation: str | None = None


COMPLIES = Verdict(True)
NOT_APPLICABLE = Verdict(False)


def violated(evidence: str) -> Verdict:
    """The clause applies and is broken; `evidence` says how."""
    return Verdict(True, evidence)


@dataclass(frozen=True)
class Violation:
    """An article broken by an output or an operation, with the evidence."""

    article: str
    title: str
    subject: str
    evidence: str

    def __str__(self) -> str:
        return f"Article {self.article} ({self.title}) broken by the {self.subject}: {self.evidence}"

    def as_dict(self) -> dict[str, str]:
        """JSON form for reports."""
        return {"article": self.article, "title": self.title, "subject": self.subject, "evidence": self.evidence}


@dataclass(frozen=True)
class World:
    """Where clauses are judged: the repository, the task's working folders, secrets to look for."""

    root: Path
    workdirs: tuple[Path, ...] = ()
    redactor: Redactor = field(default_factory=Redactor)

    @classmethod
    def of(cls, root: Path, workdirs: tuple[Path, ...] = (), environ: Mapping[str, str] | None = None) -> World:
        """A world whose secrets are the secret-named variables of `environ` (default: os.environ)."""
        env = os.environ if environ is None else environ
        return cls(Path(os.path.realpath(root)), tuple(Path(os.path.realpath(w)) for w in workdirs),
                   Redactor.from_environ(env))

    def holds_secret(self, text: str) -> bool:
        """Would redaction change `text`? (Searching is cheaper than substituting.)"""
        return any(value in text for value in self.redactor.values) or any(
            pattern.search(text) and pattern.sub(replacement, text) != text for pattern, replacement in PATTERNS)

    def path(self, value: Any) -> Path:
        """A path detail as an absolute real path (relative paths are relative to the root)."""
        return Path(os.path.realpath(os.path.join(self.root, os.fspath(value))))


def quote(text: str) -> str:
    """A short quotation of an output for evidence."""
    text = " ".join(text.split())
    return repr(text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 3] + "...")
