"""Checkers of the output articles (O1-O6); each reads its bounds from the article's parameters."""
from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from migration.constitution.articles import Scope
from migration.constitution.model import COMPLIES, NOT_APPLICABLE, OutputRecord, Verdict, World, quote, violated
from migration.constitution.registry import clause

_WORD = re.compile(r"[a-z0-9]+")
# Bytes -> lower-case letters and digits kept, every other byte a space.
_ASCII_WORDS = bytes(c | 0x20 if 65 <= c <= 90 else c if chr(c).isalnum() and c < 128 else 32 for c in range(256))
STOPWORDS = frozenset(
    "the and for are but not you all any can had her was one our out has his how its may new now old see "
    "two who did get let say she too use this that with have from they will would there their what about "
    "which when make like than then them these some into more only other could also been were does each "
    "just over such very your most where after before should under every".split()
)


def content_words(text: str) -> set[str]:
    """Lower-cased words of three or more characters, stopwords out, a plural `s` dropped."""
    words = set()
    for word in _WORD.findall(text.lower()):
        if len(word) < 3 or word in STOPWORDS:
            continue
        words.add(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return words


def _abstains(record: OutputRecord, params: Mapping[str, Any]) -> bool:
    return record.text("answer").strip() in params.get("abstentions", ())


def _answers_from_context(record: OutputRecord) -> bool:
    return "answer" in record.fields and ("context" in record.fields or "context" in record.inputs)


@clause("O1", Scope.OUTPUTS)
def grounded(record: OutputRecord, params: Mapping[str, Any], world: World) -> Verdict:
    """Most of the answer's content words occur in the context."""
    if not _answers_from_context(record):
        return NOT_APPLICABLE
    if _abstains(record, params):
        return COMPLIES
    answer = record.text("answer")
    terms = content_words(answer)
    if not terms:
        return COMPLIES  # nothing to trace back; O4 judges blank answers
    # A term occurs when a context word starts with it ("tomatoe" in "tomatoes"). Found by
    # substring search in the context as lower-case ASCII bytes, everything else a space: two
    # C-speed passes over a long text (str.translate is slow once the text holds an emoji, and
    # tokenizing it in Python costs more than the answer being judged).
    context = b" " + record.text("context").encode("ascii", "replace").translate(_ASCII_WORDS)
    found = {term for term in terms if b" " + term.encode() in context}
    share, needed = len(found) / len(terms), float(params["min_overlap"])
    if share >= needed:
        return COMPLIES
    # Words of the masked answer only: the pieces of a token ("ghp", its body) are not shown.
    missing = ", ".join(sorted((terms - found) & content_words(world.redactor.redact(answer)))[:8])
    return violated(f"only {share:.0%} of the answer's content words occur in the context (at least {needed:.0%} "
                    f"needed); not in the context: {missing}; answer {quote(answer)}")


@clause("O2", Scope.OUTPUTS)
def cites_sources(record: OutputRecord, params: Mapping[str, Any], world: World) -> Verdict:
    """An answer drawn from context lists at least one non-blank source."""
    if not _answers_from_context(record) or not record.text("context").strip():
        return NOT_APPLICABLE
    if _abstains(record, params):
        return COMPLIES
    sources = record.fields.get("sources")
    if not isinstance(sources, (list, tuple)) or not sources:
        return violated(f"the answer {quote(record.text('answer'))} lists no sources (sources={sources!r})")
    blank = [s for s in sources if not isinstance(s, str) or not s.strip()]
    if blank:
        return violated(f"sources {list(sources)!r} include blank or non-text entries {blank!r}")
    return COMPLIES


def _own_texts(record: OutputRecord, echoed: frozenset[str]) -> Iterator[tuple[str, str]]:
    for name, value in record.fields.items():
        if name in echoed:
            continue
        if isinstance(value, str):
            yield name, value
        elif isinstance(value, (list, tuple)):
            yield from ((f"{name}[{i}]", item) for i, item in enumerate(value) if isinstance(item, str))


@clause("O3", Scope.OUTPUTS)
def no_secrets(record: OutputRecord, params: Mapping[str, Any], world: World) -> Verdict:
    """No credential in the text the module produced (echoed inputs excepted)."""
    echoed = frozenset(params.get("echoed_fields", ()))
    for name, text in _own_texts(record, echoed):
        if world.holds_secret(text):
            masked = world.redactor.redact(text)
            # The evidence shows the masked text: a report must not repeat the secret it found.
            return violated(f"field {name} holds a credential: {quote(masked)}")
    return COMPLIES


@clause("O4", Scope.OUTPUTS)
def not_empty(record: OutputRecord, params: Mapping[str, Any], world: World) -> Verdict:
    """A module output has fields and no blank text field."""
    if record.kind != "module":
        return NOT_APPLICABLE
    if not record.fields:
        return violated("the output has no fields")
    blank = [name for name, text in record.texts().items() if not text.strip()]
    if blank:
        return violated(f"text field(s) {', '.join(blank)} are empty")
    return COMPLIES


@clause("O5", Scope.OUTPUTS)
def within_bounds(record: OutputRecord, params: Mapping[str, Any], world: World) -> Verdict:
    """Every text field is within its word limit."""
    texts = record.texts()
    if not texts:
        return NOT_APPLICABLE
    limits, default = params.get("max_words", {}), int(params["default_max_words"])
    for name, text in texts.items():
        count, limit = len(text.split()), int(limits.get(name, default))
        if count > limit:
            return violated(f"field {name} has {count} words, more than its bound of {limit}: {quote(text)}")
    return COMPLIES


@clause("O6", Scope.OUTPUTS)
def names_its_lm(record: OutputRecord, params: Mapping[str, Any], world: World) -> Verdict:
    """Scores come with the name of the LM that produced them."""
    if record.kind == "evaluation":
        if not record.inputs.get("lm_calls"):
            return NOT_APPLICABLE  # no LM answered: the score is not an LM's
        if record.lm and record.lm.strip():
            return COMPLIES
        return violated(f"the evaluation score {record.fields.get('score')!r} of {record.inputs.get('program', '?')} "
                        f"came from {record.inputs['lm_calls']} LM call(s) of an LM with no label or model name")
    scores = [name for name in record.fields if name in params.get("score_fields", ())]
    if not scores:
        return NOT_APPLICABLE
    named = record.fields.get("lm")
    if isinstance(named, str) and named.strip():
        return COMPLIES
    shown = {k: record.fields[k] for k in scores}
    return violated(f"score field(s) {shown!r} reported with no `lm` field naming the LM that produced them")
