"""Extractive answering and prompt rewriting: the offline LM's 'intelligence', no DSPy needed."""
from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence

from assistant.ranking import tokenize

NOT_FOUND = "The documentation does not say."
FEEDBACK_HEADING = "User feedback to address:"

LENGTH_PENALTY = 0.05  # per token; tuned once on assistant/data/devset.jsonl

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9(])")


def split_sentences(text: str) -> list[str]:
    """Lines, then sentences within lines; blank pieces dropped."""
    pieces: list[str] = []
    for line in text.splitlines():
        pieces.extend(p.strip() for p in _SENTENCE_END.split(line) if p.strip())
    return pieces


def _candidates(passages: Sequence[str]) -> list[tuple[str, str, int]]:
    """(sentence, its passage's heading, passage position) for every body sentence."""
    found: list[tuple[str, str, int]] = []
    for position, passage in enumerate(passages):
        lines = passage.strip().splitlines()
        # Corpus passages start with their heading line; it names the topic, not an answer.
        heading, body = (lines[0], "\n".join(lines[1:])) if len(lines) > 1 else ("", passage)
        found.extend((s, heading, position) for s in split_sentences(body))
    return found


def best_sentences(question: str, passages: Sequence[str]) -> list[str]:
    """Context sentences ordered by IDF-weighted overlap with the question, best first."""
    terms = set(tokenize(question))
    candidates = _candidates(passages)
    df = Counter(t for s, _, _ in candidates for t in set(tokenize(s)))
    idf = {t: math.log(1 + len(candidates) / (1 + df[t])) for t in terms}

    def score(item: tuple[str, str, int]) -> float:
        sentence, heading, position = item
        tokens = tokenize(sentence)
        own = terms & set(tokens)
        # Terms found only in the heading still point at this passage's sentences.
        inherited = (terms & set(tokenize(heading))) - own
        overlap = sum(idf[t] for t in own) + 0.5 * sum(idf[t] for t in inherited)
        # Length penalty: otherwise a long run-on line (a JSON block) matches everything.
        return overlap / (1 + LENGTH_PENALTY * len(tokens)) - 0.01 * position

    ranked = sorted(candidates, key=score, reverse=True)  # stable: ties keep document order
    return [sentence for sentence, _, _ in ranked]


def compress(sentence: str, question: str, length: int) -> str:
    """About `length` words of `sentence`: its longest run of words the question lacks, widened.

    The classic extractive heuristic: an answer is what the sentence adds to the question.
    The run is then widened to the right, then the left, to the demos' answer length.
    """
    words = sentence.split()
    if len(words) <= length:
        return sentence
    terms = set(tokenize(question))
    weight = [len(tokenize(w)) if not set(tokenize(w)) & terms else 0 for w in words]
    # Runs are measured in tokens, so "asyncio.to_thread()" outweighs "Implement".
    best, best_weight, start = (0, 1), 0, None
    for i, w in enumerate(weight + [0]):
        if w and start is None:
            start = i
        elif not w and start is not None:
            if sum(weight[start:i]) > best_weight:
                best, best_weight = (start, i), sum(weight[start:i])
            start = None
    lo, hi = best
    while hi - lo < length:
        if hi < len(words):
            hi += 1
        else:
            lo -= 1
    return " ".join(words[lo:hi])


def extract_answer(
    question: str,
    passages: Sequence[str],
    *,
    demo_lengths: Sequence[int] = (),
    avoid: str | None = None,
    max_words: int | None = None,
) -> str:
    """The best-matching context sentence, trimmed to the demos' median answer length."""
    ranked = best_sentences(question, passages)
    if avoid:
        # A revision must not repeat the rejected answer; prefer the next best sentence.
        ranked = [s for s in ranked if avoid.strip() not in s] or ranked
    if not ranked:
        return NOT_FOUND
    answer = ranked[0]
    if demo_lengths:
        answer = compress(answer, question, max(1, round(statistics.median(demo_lengths))))
    if max_words is not None:
        answer = compress(answer, question, max_words)
    return answer


def rewrite_prompt(current: str, feedback: str) -> str:
    """`current` plus every feedback sentence it does not already cover, as a bullet list."""
    kept = current.rstrip()
    covered = [set(tokenize(s)) for s in split_sentences(kept)]
    additions: list[str] = []
    for sentence in split_sentences(feedback):
        sentence = sentence.lstrip("-* ").strip()
        terms = set(tokenize(sentence))
        if not terms or any(len(terms & c) >= 0.6 * len(terms) for c in covered):
            continue
        covered.append(terms)
        additions.append(f"- {sentence}")
    if not additions:
        return kept
    heading = "" if FEEDBACK_HEADING in kept else f"\n{FEEDBACK_HEADING}"
    return kept + heading + "\n" + "\n".join(additions)
