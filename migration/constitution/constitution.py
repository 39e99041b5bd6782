"""The constitution: the articles of the document paired with their checkers, and judging."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Mapping

from migration.constitution import operation_clauses, output_clauses  # noqa: F401 - they register the checkers
from migration.constitution.articles import DOCUMENT, Article, ConstitutionError, Scope, load
from migration.constitution.model import Operation, OutputRecord, Verdict, Violation, World
from migration.constitution.registry import CHECKERS, Checker

Judgement = tuple[Article, Verdict]


def drift(articles: tuple[Article, ...], checkers: Mapping[str, tuple[Scope, Checker]]) -> list[str]:
    """Every disagreement between the document's articles and the registered checkers."""
    problems = [f"article {a.id} (line {a.line}: {a.title}) has no checker: add @clause({a.id!r}, ...) "
                f"to migration/constitution/{a.scope.name.lower()[:-1]}_clauses.py"
                for a in articles if a.id not in checkers]
    ids = {a.id: a for a in articles}
    problems += [f"checker {fn.__name__} is registered for article {aid}, which the constitution does not have"
                 for aid, (_, fn) in checkers.items() if aid not in ids]
    problems += [f"article {aid} applies to {ids[aid].scope.value} but its checker {fn.__name__} judges {scope.value}"
                 for aid, (scope, fn) in checkers.items() if aid in ids and ids[aid].scope is not scope]
    return problems


class Constitution:
    """Articles with one checker each; judges outputs and operations against them."""

    def __init__(self, articles: tuple[Article, ...], checkers: Mapping[str, tuple[Scope, Checker]] = CHECKERS):
        problems = drift(articles, checkers)
        if problems:
            raise ConstitutionError("the constitution and its checkers have drifted apart:\n- " + "\n- ".join(problems))
        self.articles = articles
        self._checkers = {a.id: checkers[a.id][1] for a in articles}
        self._by_scope = {scope: tuple(a for a in articles if a.scope is scope) for scope in Scope}

    @classmethod
    def load(cls, path: Path = DOCUMENT) -> Constitution:
        """The constitution of the document at `path` (the project's one by default)."""
        return cls(load(path))

    def ids(self, scope: Scope | None = None) -> list[str]:
        """Article ids in document order, optionally of one scope."""
        return [a.id for a in (self._by_scope[scope] if scope else self.articles)]

    def article(self, article_id: str) -> Article:
        """The article with this id."""
        return next(a for a in self.articles if a.id == article_id)

    def judge(self, subject: Any, scope: Scope, world: World) -> list[Judgement]:
        """Every article of `scope` applied to `subject`; evidence never repeats a secret."""
        judged = [(a, self._checkers[a.id](subject, a.params, world)) for a in self._by_scope[scope]]
        return [(a, v._replace(violation=world.redactor.redact(v.violation)) if v.violation else v) for a, v in judged]

    def judge_one(self, article_id: str, subject: Any, world: World) -> Verdict:
        """One article applied to `subject`."""
        found = self.article(article_id)
        verdict = self._checkers[article_id](subject, found.params, world)
        return verdict._replace(violation=world.redactor.redact(verdict.violation)) if verdict.violation else verdict

    def output_violations(self, record: OutputRecord, world: World) -> list[Violation]:
        """The articles an output breaks."""
        return violations(self.judge(record, Scope.OUTPUTS, world), record.describe)

    def operation_violations(self, op: Operation, world: World) -> list[Violation]:
        """The articles an operation breaks."""
        return violations(self.judge(op, Scope.OPERATIONS, world), op.describe)


def violations(judgements: list[Judgement], describe: Callable[[], str]) -> list[Violation]:
    """The broken articles among `judgements`, as violations of the subject `describe()` names."""
    broken = [(a, v.violation) for a, v in judgements if v.violation is not None]
    if not broken:
        return []  # the common case: no description to build
    subject = describe()
    return [Violation(a.id, a.title, subject, evidence) for a, evidence in broken]


@functools.lru_cache(maxsize=1)
def default() -> Constitution:
    """The project's constitution, loaded once per process."""
    return Constitution.load()
