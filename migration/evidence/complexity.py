"""Code complexity of Python sources, measured with radon: cyclomatic complexity and logical lines.

Cyclomatic complexity (CC) is summed over every function, method and closure (radon scores
a closure apart from the function around it, so both count); logical lines (LLOC) are
radon's raw count, docstrings included, comments and blank lines not. radon is imported
when a measurement is made: it is a test dependency, not one of the engine's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Complexity:
    """The complexity of some code: summed CC, logical lines and the blocks CC was summed over."""

    cc: int
    lloc: int
    blocks: int

    def __add__(self, other: Complexity) -> Complexity:
        return Complexity(self.cc + other.cc, self.lloc + other.lloc, self.blocks + other.blocks)

    def as_dict(self) -> dict[str, int]:
        return {"cc": self.cc, "lloc": self.lloc, "blocks": self.blocks}


NOTHING = Complexity(0, 0, 0)


def _functions(blocks: Iterable[Any], top: bool = True) -> Iterator[Any]:
    """radon's functions, methods and closures, each once (methods of nested classes included).

    `cc_visit` lists a class's methods both inside the class and beside it: at the top
    level only functions that are not methods are taken, the methods come with their class.
    """
    for block in blocks:
        if hasattr(block, "methods"):  # a radon Class
            yield from _functions([*block.methods, *block.inner_classes], top=False)
        elif not (top and block.is_method):
            yield block
            yield from _functions(block.closures, top=False)


def measure(source: str) -> Complexity:
    """The complexity of one module's source text."""
    from radon.complexity import cc_visit
    from radon.raw import analyze

    functions = list(_functions(cc_visit(source)))
    return Complexity(sum(f.complexity for f in functions), analyze(source).lloc, len(functions))


def measure_all(sources: Mapping[str, str]) -> dict[str, Complexity]:
    """Each named source's complexity."""
    return {name: measure(text) for name, text in sources.items()}


def total(measured: Mapping[str, Complexity]) -> Complexity:
    """The sum over files."""
    return sum(measured.values(), NOTHING)


def reduction(before: Complexity, after: Complexity) -> dict[str, float]:
    """Percent less CC and LLOC after than before (negative: it grew)."""
    return {
        "cc": round(100 * (before.cc - after.cc) / before.cc, 1) if before.cc else 0.0,
        "lloc": round(100 * (before.lloc - after.lloc) / before.lloc, 1) if before.lloc else 0.0,
    }
