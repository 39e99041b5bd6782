"""The checkers, one per article id, registered by `@clause` in the `*_clauses` modules."""
from __future__ import annotations

from typing import Any, Callable, Mapping

from migration.constitution.articles import Scope
from migration.constitution.model import Verdict, World

Checker = Callable[[Any, Mapping[str, Any], World], Verdict]  # (subject, parameters, world)
CHECKERS: dict[str, tuple[Scope, Checker]] = {}


def clause(article_id: str, scope: Scope) -> Callable[[Checker], Checker]:
    """Register the decorated function as the checker of article `article_id`."""

    def register(checker: Checker) -> Checker:
        if article_id in CHECKERS:
            raise ValueError(f"article {article_id} already has a checker: {CHECKERS[article_id][1].__name__}")
        CHECKERS[article_id] = (scope, checker)
        return checker

    return register
