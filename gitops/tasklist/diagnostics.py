"""Collects the diagnostics found while one task-list file is parsed."""
from __future__ import annotations

from gitops.model import Diagnostic, Severity


class Sink:
    """Collects diagnostics for one file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.diagnostics: list[Diagnostic] = []

    def error(self, line: int, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.path, line, Severity.ERROR, message))

    def warning(self, line: int, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.path, line, Severity.WARNING, message))

    def tolerated(self, line: int, message: str) -> None:
        """A warning that `--strict` makes an error: what the seed's dialect refused and the
        dialects people write get wrong without it stopping a run (an unreadable Status)."""
        self.diagnostics.append(Diagnostic(self.path, line, Severity.WARNING, message, strict=True))
